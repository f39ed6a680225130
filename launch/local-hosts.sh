#!/usr/bin/env bash
# Stand-in hosts on one machine, for trying multi-host launches (mpirun with a hostfile, Slurm with
# several nodes) without a second machine: each host is a network namespace with its own address on
# a private bridge, and runs commands under its own host name. Needs root and iproute2.
#
#   launch/local-hosts.sh up DIR N            make hosts n1..nN (10.X.Y.2 ..; this machine is 10.X.Y.1)
#   launch/local-hosts.sh exec DIR HOST CMD   run the shell command CMD on HOST (as an ssh would);
#                                             works as Open MPI's rsh agent:
#                                             mpirun --mca plm_rsh_agent "launch/local-hosts.sh exec DIR"
#   launch/local-hosts.sh down DIR            remove the namespaces and the bridge
#
# DIR/hosts lists "NAME ADDRESS NAMESPACE" per host, DIR/subnet the bridge's subnet (10.X.Y.0/24),
# DIR/bridge its name. Names and subnet are picked at random, so several sets can exist side by side.
# LOCAL_HOSTS_PREFIX (default ft, 2 to 4 lower-case letters) starts every name made (bridge PREFIXbTAG,
# namespaces PREFIXTAGnI), so that each tool built on this one can tell its own namespaces and links.
# Host names are not in DNS: use the addresses where a tool resolves names, or let the tool take
# the name as given (an rsh agent, Slurm's NodeAddr).
set -euo pipefail

usage() { echo "usage: $0 up DIR N | exec DIR HOST CMD... | down DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
action=$1
dir=$2
shift 2

up() {
  local n=${1:-}
  [[ $n =~ ^[1-9][0-9]?$ ]] || usage
  command -v ip >/dev/null || { echo "local-hosts: 'ip' not found: install iproute2" >&2; exit 1; }
  mkdir -p "$dir"
  [[ ! -f $dir/hosts ]] || { echo "local-hosts: $dir already holds hosts; '$0 down $dir' first" >&2; exit 1; }
  local prefix=${LOCAL_HOSTS_PREFIX:-ft}
  # (4 letters at most: interface names hold 15 characters, and the longest is vPREFIXTAGnNN)
  [[ $prefix =~ ^[a-z]{2,4}$ ]] || { echo "local-hosts: LOCAL_HOSTS_PREFIX must be 2 to 4 lower-case letters, not '$prefix'" >&2; exit 2; }
  local tag net i ns
  tag=$(printf '%04x' $((RANDOM % 65536)))
  net=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
  echo "${prefix}b$tag" >"$dir/bridge"
  echo "$net.0/24" >"$dir/subnet"
  : >"$dir/hosts"
  ip link add "${prefix}b$tag" type bridge
  ip addr add "$net.1/24" dev "${prefix}b$tag"
  ip link set "${prefix}b$tag" up
  for ((i = 1; i <= n; i++)); do
    ns=$prefix${tag}n$i
    ip netns add "$ns"
    echo "n$i $net.$((i + 1)) $ns" >>"$dir/hosts"
    ip link add "v$ns" type veth peer name eth0 netns "$ns"
    ip link set "v$ns" master "${prefix}b$tag" up
    ip -n "$ns" addr add "$net.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  cat "$dir/subnet"
}

# The network namespace of HOST (by name or address).
namespace_of() {
  awk -v h="$1" '$1 == h || $2 == h { print $3 }' "$dir/hosts" 2>/dev/null
}

run_on() {
  [[ $# -ge 2 ]] || usage
  local host=$1 ns
  shift
  ns=$(namespace_of "$host")
  [[ -n $ns ]] || { echo "local-hosts: no host '$host' in $dir/hosts" >&2; exit 1; }
  local name
  name=$(awk -v h="$host" '$1 == h || $2 == h { print $1 }' "$dir/hosts")
  exec nsenter --net="/run/netns/$ns" unshare --uts sh -c "hostname $name && $*"
}

down() {
  local name addr ns
  if [[ -f $dir/hosts ]]; then
    while read -r name addr ns; do
      ip link delete "v$ns" 2>/dev/null || true  # both veth ends at once
      ip netns delete "$ns" 2>/dev/null || true
    done <"$dir/hosts"
  fi
  [[ -f $dir/bridge ]] && { ip link delete "$(cat "$dir/bridge")" 2>/dev/null || true; }
  rm -f "$dir/hosts" "$dir/subnet" "$dir/bridge"
}

case $action in
  up) up "$@" ;;
  exec) run_on "$@" ;;
  down) down ;;
  *) usage ;;
esac
