# Helpers of the Slurm tests (sourced after lib.sh): private clusters that are torn down and checked
# for leftovers pass or fail, and job state queries (of the cluster SLURM_CONF names).

cluster=$FEDTRAIN_SOURCE_DIR/launch/slurm/local-cluster.sh
cdir=$WORK/cluster  # the cluster of cluster_up; the functions taking [DIR] default to it

# cluster_pids [DIR]: every PID the cluster started (munged, slurmctld, per node the unshare process
# and its slurmd).
cluster_pids() {
  local cdir=${1:-$cdir} f ns
  cat "$cdir/munge/munged.pid" "$cdir/slurmctld.pid" 2>/dev/null
  for f in "$cdir"/slurmd-*.namespace.pid; do
    [[ -e $f ]] || continue
    ns=$(cat "$f")
    echo "$ns"
    awk '{print $1}' "/proc/$ns/task/$ns/children" 2>/dev/null
  done
}

# teardown [DIR]: stops the cluster with its own script (by PID), then fails if any of its
# processes, any process in a slurmd's PID namespace (slurmstepd, job tasks), or any of its network
# namespaces is left.
teardown() {
  local cdir=${1:-$cdir} pids p f ns links=() left=() t0=$SECONDS
  pids=$(cluster_pids "$cdir" | tr '\n' ' ')
  for f in "$cdir"/slurmd-*.namespace.pid; do
    [[ -e $f ]] || continue
    ns=$(cat "$f")
    p=$(awk '{print $1}' "/proc/$ns/task/$ns/children" 2>/dev/null)
    [[ -n $p ]] && links+=("$(readlink "/proc/$p/ns/pid" 2>/dev/null)")
  done
  local netns=""
  [[ -f $cdir/hosts/hosts ]] && netns=$(awk '{print $3}' "$cdir/hosts/hosts")
  "$cluster" stop "$cdir"
  for p in $pids; do alive "$p" && left+=("$p: $(tr '\0' ' ' <"/proc/$p/cmdline")"); done
  for p in /proc/[0-9]*; do
    local link
    link=$(readlink "$p/ns/pid" 2>/dev/null) || continue
    for l in "${links[@]}"; do
      [[ -n $l && $link == "$l" ]] && alive "${p#/proc/}" && left+=("${p#/proc/} in a slurmd's PID namespace")
    done
  done
  for ns in $netns; do ip netns list | grep -qw "$ns" && left+=("network namespace $ns"); done
  if [[ ${#left[@]} -gt 0 ]]; then
    printf 'FAIL: left after teardown: %s\n' "${left[@]}" >&2
    return 1
  fi
  echo "ok: the cluster in $cdir stopped in $((SECONDS - t0)) s; none of its processes ($pids) is left"
}

# need_slurm [PKG...]: installs Slurm, munge and PKG... (or skips the test).
need_slurm() {
  [[ $(id -u) -eq 0 ]] || skip "a private Slurm cluster needs root (slurmd starts jobs as their users)"
  need_packages slurm-wlm slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins "$@"
  for cmd in munged slurmctld slurmd sbatch scontrol unshare; do
    command -v "$cmd" >/dev/null || skip "'$cmd' not found after installing"
  done
  t_installed=$SECONDS
}

# cluster_start DIR ARGS...: 'local-cluster.sh start DIR ARGS...', torn down (and checked) at exit;
# fails the test if it does not start. Its clients need SLURM_CONF=DIR/slurm.conf.
cluster_start() {
  local dir=$1
  shift
  mkdir -p "$dir"
  at_exit "teardown '$dir'"
  "$cluster" start "$dir" "$@" >/dev/null || { fail "the private cluster in $dir did not start"; finish; }
}

# cluster_up [NODES]: installs Slurm and munge (or skips), starts the private cluster, exports SLURM_CONF.
cluster_up() {
  local nodes=${1:-1}
  if [[ $nodes -gt 1 ]]; then need_slurm iproute2; else need_slurm; fi
  cluster_start "$cdir" "$nodes"
  export SLURM_CONF=$cdir/slurm.conf
  t_up=$SECONDS
  pass "private cluster up: $(sinfo -h -o '%P %T %D node(s) %c CPUs each: %N')"
}

# job_field ID FIELD: a field of 'scontrol show job' (JobState, ExitCode, Restarts, ...); for a
# heterogeneous job, of its first component.
job_field() { scontrol -o show job "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | head -1 | cut -d= -f2; }

# wait_state ID SECONDS STATE...: waits until the job is in one of the states; prints the state.
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

report_times() {
  echo "time: install ${t_installed}s, cluster up $((t_up - t_installed))s, jobs $((SECONDS - t_up))s (teardown follows)"
}
