#!/usr/bin/env bash
# The Slurm batch template on a real, private single-node Slurm cluster (munge + slurmctld + slurmd,
# launch/slurm/local-cluster.sh): 2 sites x 2 ranks launched by 'srun --mpi=pmix' on small real
# Fashion-MNIST data; output and exit state checked; a job of the wrong size refused by the template;
# and, once fedtrain writes checkpoints, a job stopped by SIGUSR1 requeued and resumed.
# Skipped (exit 77) without root or when Slurm cannot be installed. Every daemon it started is
# stopped by PID, pass or fail, and the test fails if any process of the cluster is left.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"
cluster_up 1
template=$FEDTRAIN_SOURCE_DIR/launch/slurm/fedtrain.sbatch

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"
export FEDTRAIN_BIN

# 1. The template on a job of the config's size: 2 sites x 2 ranks through srun --mpi=pmix.
id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 4 --time=30 "$template" "$cfg") \
  || { fail "sbatch refused the template"; finish; }
# (Every wait below has a generous bound and ends as soon as the state is reached: at load 20 on
# 2 cores a job takes many times its usual few seconds.)
state=$(wait_state "$id" 300 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY)
out=$(cat "$WORK/job-$id.out" 2>/dev/null)
echo "$out" | grep -v warning
if [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]]; then
  pass "job $id: $state, exit code 0:0"
else
  fail "job $id: state '$state', exit code '$(job_field "$id" ExitCode)'"
fi
grep -q "fedtrain.sbatch: job $id, run 1, 4 tasks" <<<"$out" || fail "the template's start line is missing"
grep -qE "^fedtrain: job e2e done: 3 rounds, sites es=2 de=2, test accuracy" <<<"$out" \
  && pass "srun --mpi=pmix ran 2 sites x 2 ranks for 3 rounds" || fail "no summary line for 3 rounds of es=2 de=2"
[[ $(wc -l <"$WORK/metrics.jsonl") -eq 3 ]] || fail "the metrics file should hold 3 lines"

# 2. A job whose size does not match the config is refused by the template, with the command to use.
id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 3 --time=30 "$template" "$cfg")
state=$(wait_state "$id" 300 COMPLETED FAILED CANCELLED TIMEOUT)
if [[ $state == FAILED && $(job_field "$id" ExitCode) == 2:0 ]] && grep -q "submit with: sbatch -n 4 launch/slurm/fedtrain.sbatch" "$WORK/job-$id.out"; then
  pass "a 3-task job for a 4-rank config fails with exit code 2 and says 'sbatch -n 4'"
else
  fail "3-task job: state '$state', exit code '$(job_field "$id" ExitCode)'"; cat "$WORK/job-$id.out"
fi

# 3. Stop for a checkpoint, requeue, resume: needs fedtrain's checkpoints (checkpoint.every; each
# site's checkpoint_dir; with checkpoint.every = 0 a checkpoint is written only when asked to stop).
if ! "$FEDTRAIN_BIN" run --help | grep -q "checkpoint.every"; then
  echo "SKIPPED (part 3): requeue and resume: 'fedtrain run --help' lists no checkpoint.every, so this" \
    "fedtrain cannot checkpoint on SIGUSR1 and exit 3 yet"
else
  rounds=40
  rm -f "$WORK/metrics.jsonl"
  id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 4 --time=30 "$template" "$cfg" \
    --run.job_id=requeue --federation.rounds=$rounds --run.metrics_file="$WORK/requeue.jsonl" \
    --site.es.checkpoint_dir="$WORK/ckpt-es" --site.de.checkpoint_dir="$WORK/ckpt-de")
  # Once it has run a few rounds: what --signal=B:USR1@N does at the time limit.
  for _ in $(seq 1500); do
    [[ $(cat "$WORK/requeue.jsonl" 2>/dev/null | wc -l) -ge 3 ]] && break
    [[ $(job_field "$id" JobState) == @(PENDING|CONFIGURING|RUNNING) ]] || break
    sleep 0.2
  done
  scancel --batch --signal=USR1 "$id"
  state=$(wait_state "$id" 300 PENDING COMPLETED FAILED CANCELLED)
  if [[ $state == PENDING && $(job_field "$id" Restarts) == 1 ]]; then
    pass "job $id: stopped on SIGUSR1 and requeued"
    # Slurm holds a requeued job for about two minutes (BeginTime), so that its first run has
    # surely ended everywhere. Wait for that here (the node idle again), then start it now.
    for _ in $(seq 600); do [[ $(sinfo -h -o %T) == idle ]] && break; sleep 0.2; done
    [[ $(sinfo -h -o %T) == idle ]] || fail "the node is not idle 120 s after the requeue: $(sinfo -h -o %T)"
    # slurmd refuses a job credential created in the same second as the requeue revoked the
    # old one ("Job credential revoked"): let that second pass too.
    sleep 2
    scontrol update jobid="$id" starttime=now
    state=$(wait_state "$id" 600 COMPLETED FAILED CANCELLED TIMEOUT)
    out=$(cat "$WORK/job-$id.out")
    echo "$out" | grep -v warning | tail -8
    first_resumed=$(sed -n '/fedtrain.sbatch: job [0-9]*, run 2/,$p' <<<"$out" | awk '$1 ~ /^[0-9]+$/ && $2 ~ /\// { print $1; exit }')
    if [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 && ${first_resumed:-1} -gt 1 ]] \
       && grep -q "requeueing job $id" <<<"$out" && grep -qE "^ +$rounds +[0-9]+/[0-9]+( |$)" <<<"$out"; then
      pass "the requeued job resumed at round $first_resumed and completed all $rounds rounds"
    else
      fail "requeued job: state '$state', exit code '$(job_field "$id" ExitCode)', second run began at round '${first_resumed:-?}'"
      echo "$out"
    fi
  else
    fail "job $id after SIGUSR1: state '$state', restarts '$(job_field "$id" Restarts)'"; cat "$WORK/job-$id.out"
  fi
fi

report_times
finish
