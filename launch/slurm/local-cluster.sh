#!/usr/bin/env bash
# A private Slurm cluster (munge + slurmctld + slurmd) in one directory, for trying the batch
# templates on one machine and for the Slurm tests. Changes nothing under /etc; needs root.
#
#   launch/slurm/local-cluster.sh start DIR [NODES]   start it; prints the line to export SLURM_CONF
#   launch/slurm/local-cluster.sh start DIR --on HOSTS_DIR HOST
#                                                     a cluster of the stand-in host HOST alone
#   launch/slurm/local-cluster.sh stop DIR            cancel its jobs, stop its daemons by PID, wait
#
# NODES 1 (default): one node, this host. NODES > 1: nodes n1..nN, the stand-in hosts of
# launch/local-hosts.sh (network namespaces on a private bridge), each with its own slurmd. A
# heterogeneous job needs that: Slurm never places two of its components on one node. Open MPI
# ranks on different nodes talk TCP over the bridge.
#
# --on HOSTS_DIR HOST: one node, HOST, a stand-in host that already exists (made by
# launch/local-hosts.sh or bench/wan/sites.sh, which list it in HOSTS_DIR/hosts). munged, slurmctld
# and slurmd all run on HOST, in its network namespace under its host name, as the private cluster
# of one organisation: a job on it reaches other hosts only over the network. stop leaves HOST as
# it is (it is removed by the tool that made it). Clients reach slurmctld at HOST's address.
#
# Everything lives under DIR: slurm.conf, the munge key and socket, state, spool, logs, pid files
# and, with NODES > 1, the hosts (DIR/hosts; stop removes them). Ports (launch/free-ports.sh) and
# names are picked at start, so several clusters can run side by side.
# Environment: CLUSTER_CPUS (default 8) is the CPU count each slurmd declares; above the real core
# count it lets more tasks run than there are cores (SlurmdParameters=config_overrides).
# CLUSTER_NAME (default fedtrain) is its ClusterName.
#
# Each slurmd runs as PID 1 of its own PID namespace (unshare --pid --mount-proc): when it stops,
# the kernel ends every slurmstepd and task it started, so no job process outlives the cluster.
set -euo pipefail

usage() { echo "usage: $0 start DIR [NODES] | start DIR --on HOSTS_DIR HOST | stop DIR" >&2; exit 2; }
[[ $# -eq 2 || ($# -eq 3 && $1 == start) || ($# -eq 5 && $1 == start && $3 == --on) ]] || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf
nodes_wanted=1 on_dir='' on_host=''
if [[ ${3:-} == --on ]]; then
  [[ -f $4/hosts ]] || { echo "local-cluster: no stand-in hosts in '$4' (no $4/hosts)" >&2; exit 2; }
  on_dir=$(cd "$4" && pwd) on_host=$5
  awk -v h="$on_host" '$1 == h { found = 1 } END { exit !found }' "$on_dir/hosts" \
    || { echo "local-cluster: no host '$on_host' in $on_dir/hosts (hosts: $(awk '{print $1}' "$on_dir/hosts" | tr '\n' ' '))" >&2; exit 2; }
else
  nodes_wanted=${3:-1}
fi
[[ $nodes_wanted =~ ^[1-9][0-9]?$ ]] || { echo "local-cluster: NODES must be 1 to 99" >&2; exit 2; }

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

hosts_tool=$(cd "$(dirname "$0")/.." && pwd)/local-hosts.sh
free_ports_tool=$(cd "$(dirname "$0")/.." && pwd)/free-ports.sh

# run_on_host CMD: the shell command CMD on the cluster's own host (--on), else here.
run_on_host() {
  if [[ -n $on_host ]]; then "$hosts_tool" exec "$on_dir" "$on_host" "$1"
  else sh -c "$1"
  fi
}

start() {
  local cmds=(munged slurmctld slurmd sinfo unshare) host ctld_host nodes=() node_lines="" i
  [[ $nodes_wanted -gt 1 || -n $on_host ]] && cmds+=(ip nsenter)
  for cmd in "${cmds[@]}"; do
    command -v "$cmd" >/dev/null || { echo "local-cluster: '$cmd' not found: install munge, slurm-wlm and iproute2" >&2; exit 1; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "local-cluster: needs root (slurmd starts jobs as their users)" >&2; exit 1; }
  if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    echo "local-cluster: a cluster already runs in $dir; stop it first" >&2; exit 1
  fi
  host=$(hostname -s)
  mkdir -p "$dir"/{munge,state,spool,log,tmp}
  chmod 711 "$dir/munge"

  if [[ -n $on_host ]]; then
    local addr
    addr=$(awk -v h="$on_host" '$1 == h { print $2 }' "$on_dir/hosts")
    nodes=("$on_host")
    ctld_host="$on_host($addr)"
    node_lines="NodeName=$on_host NodeAddr=$addr NodeHostname=$on_host CPUs=${CLUSTER_CPUS:-8} State=UNKNOWN"
  elif [[ $nodes_wanted -eq 1 ]]; then
    nodes=("$host")
    ctld_host=$host
    node_lines="NodeName=$host CPUs=${CLUSTER_CPUS:-8} State=UNKNOWN"
  else
    "$hosts_tool" up "$dir/hosts" "$nodes_wanted" >/dev/null \
      || { echo "local-cluster: cannot make the stand-in hosts (network namespaces)" >&2; stop; exit 1; }
    local name addr ns
    ctld_host="$host($(sed 's|0/24$|1|' "$dir/hosts/subnet"))"
    while read -r name addr ns; do
      nodes+=("$name")
      node_lines+="NodeName=$name NodeAddr=$addr NodeHostname=$name CPUs=${CLUSTER_CPUS:-8} State=UNKNOWN"$'\n'
    done <"$dir/hosts/hosts"
    node_lines=${node_lines%$'\n'}
  fi

  # munge: a random 1 KiB key only root can read, a private socket.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  run_on_host "exec munged --force -S '$dir/munge/munge.socket' --key-file='$dir/munge/munge.key' \
    --pid-file='$dir/munge/munged.pid' --log-file='$dir/log/munged.log' --seed-file='$dir/munge/munged.seed'" \
    </dev/null >/dev/null 2>&1

  # slurmctld's port, then slurmd's: two consecutive ports that every address of this host can bind.
  local ports
  ports=$("$free_ports_tool" 2 0.0.0.0) || { echo "local-cluster: no free TCP ports for slurmctld and slurmd" >&2; stop; exit 1; }

  cat >"$conf" <<CONF
# Private cluster written by launch/slurm/local-cluster.sh
ClusterName=${CLUSTER_NAME:-fedtrain}
SlurmctldHost=$ctld_host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$ports
SlurmdPort=$((ports + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/spool/%n/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
TmpFS=$dir/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Backfill every second, heterogeneous jobs as soon as they fit (by default they wait up to 30 s).
SchedulerParameters=bf_interval=1,bf_hetjob_immediate
MpiDefault=pmix
# RPCs and batch launches may take up to 60 s (default 10 s): on a loaded machine (load 20 on 2
# cores) a daemon or srun can take longer than 10 s to answer, and the job would fail on a timeout.
MessageTimeout=60
BatchStartTimeout=60
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
$node_lines
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

  run_on_host "exec slurmctld -f '$conf' -i" </dev/null >/dev/null 2>&1
  # Each slurmd in the foreground as PID 1 of a new PID namespace (with NODES > 1 also inside its
  # node's network namespace, with the node's host name and a /dev/shm of its own, as real nodes
  # have: Open MPI keeps its shared-memory segments there); setsid detaches it from this shell.
  for i in "${!nodes[@]}"; do
    local node=${nodes[$i]}
    mkdir -p "$dir/spool/$node" "$dir/tmp/$node"
    if [[ $nodes_wanted -eq 1 && -z $on_host ]]; then
      setsid unshare --pid --fork --mount-proc --kill-child slurmd -D -f "$conf" \
        </dev/null >"$dir/log/slurmd-$node.stdout" 2>&1 &
    else
      setsid "$hosts_tool" exec "${on_dir:-$dir/hosts}" "$node" \
        "exec unshare --pid --fork --mount-proc --kill-child sh -c 'mount -t tmpfs -o mode=1777 shm /dev/shm && exec slurmd -D -N $node -f $conf'" \
        </dev/null >"$dir/log/slurmd-$node.stdout" 2>&1 &
    fi
    echo $! >"$dir/slurmd-$node.namespace.pid"
  done

  export SLURM_CONF=$conf
  local state=""
  # About 1 s here; a loaded machine may take far longer, hence the generous bound.
  local t0=$SECONDS
  while ((SECONDS - t0 < 120)); do
    state=$(sinfo -h -o %T 2>/dev/null | sort -u | tr '\n' ' ')
    [[ $state == "idle " ]] && break
    sleep 0.1
  done
  if [[ $state != "idle " ]]; then
    echo "local-cluster: the nodes did not become idle within 120 s (state '$state'); logs in $dir/log" >&2
    tail -n 5 "$dir"/log/*.log >&2 || true
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
  # Each slurmd: its outside PID is the child of the recorded unshare process (which ignores
  # SIGTERM); stopping slurmd ends its PID namespace, and with it the unshare process.
  local f ns_pid
  for f in "$dir"/slurmd-*.namespace.pid; do
    [[ -e $f ]] || continue
    ns_pid=$(pid_of "$f")
    if [[ -n $ns_pid ]] && kill -0 "$ns_pid" 2>/dev/null; then
      stop_pid "$(awk '{print $1}' "/proc/$ns_pid/task/$ns_pid/children" 2>/dev/null)" slurmd
      stop_pid "$ns_pid" "slurmd's namespace"
    fi
    rm -f "$f"
  done
  stop_pid "$(pid_of "$dir/slurmctld.pid")" slurmctld
  stop_pid "$(pid_of "$dir/munge/munged.pid")" munged
  rm -f "$dir/slurmctld.pid" "$dir/munge/munged.pid"
  # The stand-in hosts of NODES > 1.
  [[ -f $dir/hosts/hosts ]] && "$hosts_tool" down "$dir/hosts"
  return 0
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
