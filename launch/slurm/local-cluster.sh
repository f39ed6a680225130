#!/usr/bin/env bash
# A private single-node Slurm cluster (munge + slurmctld + slurmd) in one directory, for trying the
# batch templates on one machine and for the Slurm test. Changes nothing under /etc; needs root.
#
#   launch/slurm/local-cluster.sh start DIR    start it; prints the line to export SLURM_CONF
#   launch/slurm/local-cluster.sh stop DIR     cancel its jobs, stop its daemons by PID, wait for them
#
# Everything lives under DIR: slurm.conf, the munge key and socket, state, spool, logs and pid files.
# The ports are free ones picked at start, so several clusters can run side by side.
# Environment: CLUSTER_CPUS (default 8) is the CPU count slurmd declares; above the real core count
# it lets more tasks run than there are cores (SlurmdParameters=config_overrides).
#
# slurmd runs as PID 1 of its own PID namespace (unshare --pid --mount-proc): when it stops, the
# kernel ends every slurmstepd and task it started, so no job process can outlive the cluster.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf

# A TCP port nobody listens on (probed by connecting to it).
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "local-cluster: no free port found" >&2; exit 1
}

# Sends SIGTERM to PID and waits up to 10 s for it to exit, then SIGKILL.
stop_pid() {
  local pid=$1 what=$2
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "local-cluster: $what (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

pid_of() { [[ -s $1 ]] && cat "$1" || true; }

start() {
  for cmd in munged slurmctld slurmd sinfo unshare; do
    command -v "$cmd" >/dev/null || { echo "local-cluster: '$cmd' not found: install munge and slurm-wlm" >&2; exit 1; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "local-cluster: needs root (slurmd starts jobs as their users)" >&2; exit 1; }
  if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    echo "local-cluster: a cluster already runs in $dir; stop it first" >&2; exit 1
  fi
  local host
  host=$(hostname -s)
  mkdir -p "$dir"/{munge,state,spool,log}
  chmod 711 "$dir/munge"

  # munge: a random 1 KiB key only root can read, a private socket.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force -S "$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    </dev/null >/dev/null 2>&1

  cat >"$conf" <<EOF
# Private single-node cluster written by launch/slurm/local-cluster.sh
ClusterName=fedtrain
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/spool/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
NodeName=$host CPUs=${CLUSTER_CPUS:-8} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  slurmctld -f "$conf" -i </dev/null >/dev/null 2>&1
  # slurmd in the foreground as PID 1 of a new PID namespace; setsid detaches it from this shell.
  setsid unshare --pid --fork --mount-proc --kill-child slurmd -D -f "$conf" \
    </dev/null >"$dir/log/slurmd.stdout" 2>&1 &
  echo $! >"$dir/slurmd-namespace.pid"

  export SLURM_CONF=$conf
  local state=""
  for _ in $(seq 200); do
    state=$(sinfo -h -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.1
  done
  if [[ $state != idle ]]; then
    echo "local-cluster: the node did not become idle within 20 s (state '$state'); logs in $dir/log" >&2
    tail -5 "$dir"/log/*.log >&2 || true
    stop
    exit 1
  fi
  echo "export SLURM_CONF=$conf"
}

stop() {
  export SLURM_CONF=$conf
  # Jobs first, while slurmctld and slurmd can still end them cleanly.
  if [[ -f $conf ]] && kill -0 "$(pid_of "$dir/slurmctld.pid")" 2>/dev/null; then
    scancel --full --quiet --user=root 2>/dev/null || true
    for _ in $(seq 100); do
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.1
    done
  fi
  # slurmd: its outside PID is the child of the unshare process; stopping it ends the namespace.
  local ns_pid slurmd_pid=""
  ns_pid=$(pid_of "$dir/slurmd-namespace.pid")
  if [[ -n $ns_pid ]] && kill -0 "$ns_pid" 2>/dev/null; then
    slurmd_pid=$(cat "/proc/$ns_pid/task/$ns_pid/children" 2>/dev/null | awk '{print $1}')
    stop_pid "$slurmd_pid" slurmd
    stop_pid "$ns_pid" "slurmd's namespace"
  fi
  stop_pid "$(pid_of "$dir/slurmctld.pid")" slurmctld
  stop_pid "$(pid_of "$dir/munge/munged.pid")" munged
  rm -f "$dir/slurmd-namespace.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
