#!/usr/bin/env bash
# The heterogeneous-job template on a real, private two-node Slurm cluster (nodes are network
# namespaces, launch/slurm/local-cluster.sh start DIR 2): one component per site, each running
# 'fedtrain run --site NAME' on its own node, one MPI world through 'srun --mpi=pmix ... : ...'.
# Small real Fashion-MNIST data; output, placement and exit state checked; the result must equal
# the same run launched by mpiexec with sites as rank blocks.
# Skipped (exit 77) without root, when Slurm cannot be installed, or when this machine cannot make
# network namespaces. Every daemon it started is stopped by PID, pass or fail.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slurm_lib.sh"

# Network namespaces need CAP_NET_ADMIN; find out before starting anything.
need_packages iproute2
probe=fedtrain-probe-$$
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here (ip netns add failed)"
ip netns delete "$probe"
cluster_up 2
template=$FEDTRAIN_SOURCE_DIR/launch/slurm/fedtrain-hetjob.sbatch

data=$WORK/data
small_data "$data"
small_config "$WORK/blocks.ini" "$data"
# Sites named per process: the config gives no rank counts, the components do.
sed -e '/^ranks = 2$/d' -e "s|^metrics_file = .*|metrics_file = $WORK/het.jsonl|" "$WORK/blocks.ini" >"$WORK/named.ini"
export FEDTRAIN_BIN

# Slurm 22.05's srun sometimes does not return after every task of a heterogeneous step with
# --mpi=pmix has ended (it starts one PMIx abort agent per component and stops one; measured here
# in 9 of 120 such steps, never in 30 with --mpi=none nor in 30 one-component jobs on two nodes;
# see docs/operations.md).
# That one symptom (the job's summary printed, every fedtrain task ended, srun still running 30 s
# later) earns a new attempt, at most two; anything else fails at once. The symptom is read from
# the tasks themselves, not from a time after the summary: on a loaded machine the tasks may take
# many seconds to finalise, which is no hang.

# fedtrain_tasks: how many of the job's tasks still run (processes of $FEDTRAIN_BIN on this test's
# config); reads /proc without a fork per process.
fedtrain_tasks() {
  local p argv0 n=0
  for p in /proc/[0-9]*; do
    argv0=''
    read -r -d '' argv0 2>/dev/null <"$p/cmdline"
    [[ $argv0 == "$FEDTRAIN_BIN" ]] && grep -qaF "$WORK/named.ini" "$p/cmdline" 2>/dev/null && alive "${p#/proc/}" && n=$((n + 1))
  done
  echo "$n"
}

for attempt in 1 2 3; do
  id=$(sbatch --parsable -D "$WORK" -o "$WORK/job-%j.out" --time=30 "$template" "$WORK/named.ini") \
    || { fail "sbatch refused the template"; finish; }
  ended_at="" t0=$SECONDS
  while ((SECONDS - t0 < 300)); do  # a generous bound: the job takes about 10 s here
    state=$(job_field "$id" JobState)
    [[ $state == @(PENDING|CONFIGURING|RUNNING|COMPLETING) ]] || break
    if grep -q "^fedtrain: job e2e done" "$WORK/job-$id.out" 2>/dev/null && [[ $(fedtrain_tasks) -eq 0 ]]; then
      ended_at=${ended_at:-$SECONDS}
      [[ $((SECONDS - ended_at)) -ge 30 ]] && break
    fi
    sleep 0.2
  done
  out=$(cat "$WORK/job-$id.out" 2>/dev/null)
  [[ $state == RUNNING && -n $ended_at && $attempt -lt 3 ]] || break
  echo "attempt $attempt: every task has ended but srun still runs 30 s later (the Slurm 22.05 pmix race); cancelling job $id"
  scancel "$id"
  wait_state "$id" 60 CANCELLED COMPLETED FAILED >/dev/null
done
echo "$out" | grep -v warning
if [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]]; then
  pass "heterogeneous job $id: $state, exit code 0:0"
else
  fail "heterogeneous job $id: state '$state', exit code '$(job_field "$id" ExitCode)'"
fi
nodes=$(scontrol -o show job "$id" | grep -oE ' NodeList=n[0-9]+' | sort -u | tr -d ' ' | tr '\n' ' ')
[[ $nodes == "NodeList=n1 NodeList=n2 " ]] && pass "one component per node: $nodes" || fail "component nodes: '$nodes'"
grep -q "fedtrain-hetjob.sbatch: job $id, run 1, sites es=2 de=2" <<<"$out" || fail "the template's start line is missing"
grep -qE "^fedtrain: job e2e done: 3 rounds, sites es=2 de=2, test accuracy" <<<"$out" \
  && pass "srun --mpi=pmix ran one component per site as one MPI world" || fail "no summary line for es=2 de=2"

# The same training as rank blocks under mpiexec gives the same rounds.
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$WORK/blocks.ini" >"$WORK/blocks.out" 2>&1 \
  || { cat "$WORK/blocks.out"; fail "mpiexec run"; }
cut -d, -f2-8 "$WORK/metrics.jsonl" >"$WORK/a"
cut -d, -f2-8 "$WORK/het.jsonl" >"$WORK/b"
cmp -s "$WORK/a" "$WORK/b" && pass "the heterogeneous job's metrics equal the mpiexec run's" \
  || fail "the heterogeneous job's metrics differ from the mpiexec run's"
report_times
finish
