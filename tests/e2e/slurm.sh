#!/usr/bin/env bash
# The Slurm batch template on a real, private single-node Slurm cluster (munge + slurmctld + slurmd,
# launch/slurm/local-cluster.sh): 2 sites x 2 ranks launched by 'srun --mpi=pmix' on small real
# Fashion-MNIST data; output and exit state checked; a job of the wrong size refused by the template;
# and, once fedtrain writes checkpoints, a job stopped by SIGUSR1 requeued and resumed.
# Skipped (exit 77) without root or when Slurm cannot be installed. Every daemon it started is
# stopped by PID, pass or fail, and the test fails if any process of the cluster is left.
source "$(dirname "$0")/lib.sh"
t_start=$SECONDS

[[ $(id -u) -eq 0 ]] || skip "the private Slurm cluster needs root (slurmd starts jobs as their users)"
need_packages slurm-wlm slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins
for cmd in munged slurmctld slurmd sbatch scontrol unshare; do
  command -v "$cmd" >/dev/null || skip "'$cmd' not found after installing"
done
t_installed=$SECONDS

cluster=$FEDTRAIN_SOURCE_DIR/launch/slurm/local-cluster.sh
template=$FEDTRAIN_SOURCE_DIR/launch/slurm/fedtrain.sbatch
cdir=$WORK/cluster

# Teardown: the cluster script stops its daemons by PID; then nothing may be left of them, nor any
# process in slurmd's PID namespace (slurmstepd, job tasks).
cluster_pids() {
  local ns
  ns=$(cat "$cdir/slurmd-namespace.pid" 2>/dev/null)
  echo "$(cat "$cdir/munge/munged.pid" 2>/dev/null) $(cat "$cdir/slurmctld.pid" 2>/dev/null) $ns" \
    "$([[ -n $ns ]] && cat "/proc/$ns/task/$ns/children" 2>/dev/null)"
}
teardown() {
  local pids ns_link left=() p t0=$SECONDS
  pids=$(cluster_pids)
  ns_link=$(readlink "/proc/$(awk '{print $4}' <<<"$pids")/ns/pid" 2>/dev/null)
  "$cluster" stop "$cdir"
  for p in $pids; do alive "$p" && left+=("$p: $(tr '\0' ' ' <"/proc/$p/cmdline")"); done
  if [[ -n $ns_link ]]; then
    for p in /proc/[0-9]*; do
      [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns_link" ]] && alive "${p#/proc/}" && left+=("${p#/proc/} (in slurmd's namespace)")
    done
  fi
  if [[ ${#left[@]} -gt 0 ]]; then
    printf 'FAIL: left running after teardown: %s\n' "${left[@]}" >&2
    return 1
  fi
  echo "ok: cluster stopped in $((SECONDS - t0)) s, no process left (pids $pids)"
}

mkdir -p "$cdir"
at_exit teardown
conf_line=$("$cluster" start "$cdir") || { fail "the private cluster did not start"; finish; }
eval "$conf_line"
t_up=$SECONDS
pass "private cluster up: $(sinfo -h -o '%P %T %c CPUs on %N')"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"
export FEDTRAIN_BIN

# job_field ID FIELD: a field of 'scontrol show job' (JobState, ExitCode, Restarts, ...).
job_field() { scontrol -o show job "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | head -1 | cut -d= -f2; }
# wait_state ID SECONDS STATE...: until the job is in one of the states; prints the state.
wait_state() {
  local id=$1 limit=$2 state=""
  shift 2
  for _ in $(seq $((limit * 5))); do
    state=$(job_field "$id" JobState)
    for s in "$@"; do [[ $state == "$s" ]] && { echo "$state"; return 0; }; done
    sleep 0.2
  done
  echo "$state"
  return 1
}

# 1. The template on a job of the config's size: 2 sites x 2 ranks through srun --mpi=pmix.
id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 4 --time=5 "$template" "$cfg") \
  || { fail "sbatch refused the template"; finish; }
state=$(wait_state "$id" 90 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY)
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
id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 3 --time=5 "$template" "$cfg")
state=$(wait_state "$id" 60 COMPLETED FAILED CANCELLED TIMEOUT)
if [[ $state == FAILED && $(job_field "$id" ExitCode) == 2:0 ]] && grep -q "submit with: sbatch -n 4" "$WORK/job-$id.out"; then
  pass "a 3-task job for a 4-rank config fails with exit code 2 and says 'sbatch -n 4'"
else
  fail "3-task job: state '$state', exit code '$(job_field "$id" ExitCode)'"; cat "$WORK/job-$id.out"
fi

# 3. Stop for a checkpoint, requeue, resume: needs fedtrain's checkpoints (checkpoint.every).
if ! "$FEDTRAIN_BIN" run --help | grep -q "checkpoint.every"; then
  echo "SKIPPED (part 3): requeue and resume: 'fedtrain run --help' lists no checkpoint.every, so this" \
    "fedtrain cannot checkpoint on SIGUSR1 and exit 3 yet"
else
  rounds=400
  rm -f "$WORK/metrics.jsonl"
  id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" -n 4 --time=5 "$template" "$cfg" \
    --run.job_id=requeue --federation.rounds=$rounds --checkpoint.every=1 --run.metrics_file="$WORK/requeue.jsonl")
  # Once it has run a few rounds: what --signal=B:USR1@N does at the time limit.
  for _ in $(seq 300); do
    [[ $(cat "$WORK/requeue.jsonl" 2>/dev/null | wc -l) -ge 3 ]] && break
    [[ $(job_field "$id" JobState) == @(PENDING|CONFIGURING|RUNNING) ]] || break
    sleep 0.2
  done
  scancel --batch --signal=USR1 "$id"
  state=$(wait_state "$id" 60 PENDING COMPLETED FAILED CANCELLED)
  if [[ $state == PENDING && $(job_field "$id" Restarts) == 1 ]]; then
    pass "job $id: stopped on SIGUSR1 and requeued"
    # Slurm holds a requeued job for about two minutes (BeginTime); start it now.
    scontrol update jobid="$id" starttime=now
    state=$(wait_state "$id" 90 COMPLETED FAILED CANCELLED TIMEOUT)
    out=$(cat "$WORK/job-$id.out")
    echo "$out" | grep -v warning | tail -8
    first_resumed=$(sed -n '/fedtrain.sbatch: job [0-9]*, run 2/,$p' <<<"$out" | awk '$1 ~ /^[0-9]+$/ && $2 ~ /\// { print $1; exit }')
    if [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 && ${first_resumed:-1} -gt 1 ]] \
       && grep -q "requeueing job $id" <<<"$out" && grep -qE "^ +$rounds +[0-9]+/[0-9]+( |$)" <<<"$out"; then
      pass "the requeued job resumed at round $first_resumed and completed all $rounds rounds"
    else
      fail "requeued job: state '$state', exit code '$(job_field "$id" ExitCode)', second run began at round '${first_resumed:-?}'"
    fi
  else
    fail "job $id after SIGUSR1: state '$state', restarts '$(job_field "$id" Restarts)'"; cat "$WORK/job-$id.out"
  fi
fi

echo "time: install ${t_installed}s, cluster up $((t_up - t_installed))s, jobs $((SECONDS - t_up))s (teardown follows)"
finish
