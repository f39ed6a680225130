#!/usr/bin/env bash
# Emulated WAN sites: N stand-in hosts (launch/local-hosts.sh: network namespaces n1..nN on a private
# bridge), each joined to the bridge by a shaped link. Needs root, iproute2 (ip, tc), iperf3 and
# iputils-ping for probe, and for --delay iptables (iptables-legacy) and bench/wan/nfq_delay.cc's
# fedtrain_nfq_delay (built where libnetfilter-queue-dev is found); launch/install-deps.sh installs them.
#
#   bench/wan/sites.sh up DIR N --rate RATE [--delay MS] [--mtu BYTES]
#                                      make sites n1..nN; every site's link is shaped
#   bench/wan/sites.sh probe DIR [--seconds S]
#                                      measure the link between n1 and n2: DIR/link.json, one line
#   bench/wan/sites.sh exec DIR HOST CMD...
#                                      run CMD on HOST (n1.. or its address): launch/local-hosts.sh exec
#   bench/wan/sites.sh down DIR        stop the delay helpers, remove the namespaces and links, by name
#   bench/wan/sites.sh run DIR N --rate RATE [--delay MS] [--mtu BYTES] -- CMD...
#                                      up, probe, CMD (on this machine, FEDTRAIN_SITES_DIR=DIR), down;
#                                      down also runs when CMD fails or the run is interrupted
#
# The link of a site:
#   rate   TBF on the site's eth0 egress (its uplink), RATE as tc takes it (100mbit, 1gbit, 10gbit).
#          Burst: 2 ms of RATE (at least 64 KiB); queue beyond the burst: one round trip of RATE
#          (2 x MS, at least 20 ms), the buffer TCP needs to keep the link busy after a loss.
#   delay  every packet a site receives waits MS ms in fedtrain_nfq_delay (iptables raw PREROUTING ->
#          NFQUEUE, one helper per site), then goes on in order. Every site delays what it receives,
#          so a round trip between two sites takes 2 x MS: --delay 10 gives an RTT of 20 ms.
#   mtu    9000 by default (jumbo frames): at 1500 the headers of TCP/IP/Ethernet take 4.4 % of the
#          line rate, and TCP could not come within 4 % of RATE. --mtu 1500 gives Internet-like frames.
#   TCP    net.ipv4.tcp_rmem/tcp_wmem in every site's namespace: at most 256 MiB, so that one TCP
#          connection can fill 10gbit x 50 ms of round trip (62.5 MB in flight); 4 MiB to start
#          with, which rides over the scheduling gaps of a loaded machine (the kernel's 128 KiB/16 KiB
#          left 1gbit at 92 % with 2 busy cores, where 4 MiB gives 96 %).
#
# DIR holds local-hosts.sh's files (hosts: "NAME ADDRESS NAMESPACE"), sites.conf (rate, rate_bps,
# delay_ms, mtu), the delay helpers' nfq-nI.pid and .log, and after probe link.json:
#   {"set_rate_bps":..,"measured_bps":.. (the lower direction),"rtt_ms":..,"set_delay_ms":..,...}
# Names start with "fw" (namespaces fwTAGnI, bridge fwbTAG, veth vfwTAGnI), or with SITES_PREFIX
# (2 to 4 lower-case letters), which a test sets to tell its own namespaces from other tests'.
#
# Open MPI across the sites, from the repository root (docs/benchmarks.md, "Emulated WAN links"):
# the hosts by their names n1.. (the rsh agent resolves them); the MPI traffic on eth0, which in a
# site is its shaped link; Open MPI's control channel on the sites' subnet (DIR/subnet), because
# mpirun runs on this machine, whose own eth0 is another network. No --prefix or PATH is needed.
#   bench/wan/sites.sh up /tmp/wan 2 --rate 1gbit --delay 10
#   mpirun --allow-run-as-root --mca plm_rsh_agent "bench/wan/sites.sh exec /tmp/wan" --host n1,n2 -n 2 \
#     --mca btl tcp,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include "$(cat /tmp/wan/subnet)" \
#     -x OPENBLAS_NUM_THREADS=1 build/launch/fedtrain bench secagg --max-bytes 8M
#   bench/wan/sites.sh down /tmp/wan
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hosts_tool=$root/launch/local-hosts.sh

usage() {
  echo "usage: $0 up DIR N --rate RATE [--delay MS] [--mtu BYTES] | probe DIR [--seconds S] |" \
       "exec DIR HOST CMD... | down DIR | run DIR N --rate RATE [--delay MS] [--mtu BYTES] -- CMD..." >&2
  echo "  ($0 --help says more, with the mpirun line across the sites; RATE as tc takes it: 100mbit, 1gbit, 10gbit)" >&2
  exit 2
}
die() { echo "sites: $*" >&2; exit 1; }
bad() { echo "sites: $*" >&2; exit 2; }

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
fi
[[ $# -ge 2 ]] || usage
action=$1
dir=$2
shift 2

# --- options of up and run --------------------------------------------------------------------------
n='' rate='' rate_bps='' delay_ms=0 mtu=9000
parse_up_options() {
  n=${1:-}
  [[ $n =~ ^[1-9][0-9]?$ ]] || bad "N must be a number of sites from 1 to 99, not '${1:-}'"
  shift
  while [[ $# -gt 0 ]]; do
    case $1 in
      --rate) rate=${2:-}; shift 2 || usage ;;
      --delay) delay_ms=${2:-}; shift 2 || usage ;;
      --mtu) mtu=${2:-}; shift 2 || usage ;;
      --) break ;;
      *) bad "unknown option '$1' (expected --rate, --delay, --mtu)" ;;
    esac
  done
  [[ -n $rate ]] || bad "--rate RATE is required (e.g. --rate 1gbit)"
  rate_bps=$(rate_to_bps "$rate") || bad "--rate '$rate' is not a rate as tc takes it: a number and bit, kbit, mbit, gbit or tbit (e.g. 100mbit)"
  [[ $delay_ms =~ ^[0-9]+(\.[0-9]+)?$ ]] || bad "--delay must be milliseconds (e.g. 10 or 2.5), not '$delay_ms'"
  [[ $mtu =~ ^[0-9]+$ ]] && ((mtu >= 1280 && mtu <= 65000)) || bad "--mtu must be from 1280 to 65000 bytes, not '$mtu'"
}

# RATE (tc's decimal bit units) in bits per second.
rate_to_bps() {
  [[ $1 =~ ^([0-9]+(\.[0-9]+)?)(bit|kbit|mbit|gbit|tbit)$ ]] || return 1
  local scale
  case ${BASH_REMATCH[3]} in
    bit) scale=1 ;; kbit) scale=1e3 ;; mbit) scale=1e6 ;; gbit) scale=1e9 ;; tbit) scale=1e12 ;;
  esac
  awk -v v="${BASH_REMATCH[1]}" -v s="$scale" 'BEGIN { r = v * s; if (r < 8000) exit 1; printf "%.0f\n", r }'
}

# The delay helper: FEDTRAIN_NFQ_DELAY, else the one built in build/ or build-cpu/ of this checkout.
nfq_delay_bin() {
  local b
  for b in "${FEDTRAIN_NFQ_DELAY:-}" "$root/build/bench/fedtrain_nfq_delay" "$root/build-cpu/bench/fedtrain_nfq_delay"; do
    [[ -n $b && -x $b ]] && { echo "$b"; return; }
  done
  return 1
}

check_tools() {
  [[ $(id -u) -eq 0 ]] || die "emulated sites need root (network namespaces, tc, iptables)"
  command -v ip >/dev/null && command -v tc >/dev/null || die "'ip' or 'tc' not found: install iproute2"
  if [[ $delay_ms != 0 ]]; then
    command -v iptables-legacy >/dev/null || die "--delay needs iptables-legacy: install iptables (launch/install-deps.sh does)"
    nfq_delay_bin >/dev/null || die "--delay needs fedtrain_nfq_delay: build it (cmake finds libnetfilter-queue-dev, target fedtrain_nfq_delay) or set FEDTRAIN_NFQ_DELAY"
  fi
}

# --- up ---------------------------------------------------------------------------------------------
up() {
  parse_up_options "$@"
  check_tools
  [[ ! -f $dir/hosts ]] || die "$dir already holds sites; '$0 down $dir' first"
  made=1  # from here on, a failure removes whatever was made (on_exit)
  LOCAL_HOSTS_PREFIX=${SITES_PREFIX:-fw} "$hosts_tool" up "$dir" "$n" >/dev/null
  printf 'rate %s\nrate_bps %s\ndelay_ms %s\nmtu %s\n' "$rate" "$rate_bps" "$delay_ms" "$mtu" >"$dir/sites.conf"
  ip link set "$(cat "$dir/bridge")" mtu "$mtu"
  local name addr ns
  while read -r name addr ns; do
    shape_site "$name" "$ns"
  done <"$dir/hosts"
  [[ $action == run ]] || made=0
  echo "sites: $n site(s) on $(cat "$dir/subnet"), each link $rate, delay $delay_ms ms per receiver (RTT $(awk -v d="$delay_ms" 'BEGIN { print 2 * d }') ms), mtu $mtu"
}

shape_site() {
  local name=$1 ns=$2
  ip link set "v$ns" mtu "$mtu"
  ip -n "$ns" link set eth0 mtu "$mtu"
  local burst limit
  burst=$(awk -v r="$rate_bps" 'BEGIN { b = r / 8 * 0.002; if (b < 65536) b = 65536; printf "%.0f", b }')
  limit=$(awk -v r="$rate_bps" -v b="$burst" -v d="$delay_ms" 'BEGIN { q = 2 * d / 1000; if (q < 0.020) q = 0.020; printf "%.0f", b + r / 8 * q }')
  ip netns exec "$ns" tc qdisc replace dev eth0 root tbf rate "$rate" burst "$burst" limit "$limit"
  ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_rmem="4096 4194304 268435456" net.ipv4.tcp_wmem="4096 4194304 268435456"
  [[ $delay_ms == 0 ]] || start_delay "$name" "$ns"
}

# The delay helper of site NAME in its namespace, then the rule that hands it every IPv4 packet
# arriving on eth0 (--queue-bypass: packets pass undelayed if no helper listens).
start_delay() {
  local name=$1 ns=$2 bin pid i
  bin=$(nfq_delay_bin)
  : >"$dir/nfq-$name.log"
  setsid nsenter --net="/run/netns/$ns" "$bin" --queue 0 --delay-ms "$delay_ms" \
    </dev/null >"$dir/nfq-$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/nfq-$name.pid"
  for ((i = 0; i < 100; i++)); do
    grep -q '^ready' "$dir/nfq-$name.log" && break
    kill -0 "$pid" 2>/dev/null || die "the delay helper of $name ended: $(cat "$dir/nfq-$name.log")"
    sleep 0.1
  done
  grep -q '^ready' "$dir/nfq-$name.log" || die "the delay helper of $name did not get ready in 10 s"
  ip netns exec "$ns" iptables-legacy -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num 0 --queue-bypass
}

# PID exists and is not a zombie (an ended helper waits for init, not for us, to reap it).
alive() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }

# --- down -------------------------------------------------------------------------------------------
down() {
  local f pid i
  for f in "$dir"/nfq-*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    # Only our helper: the pid may have been reused since.
    if [[ $pid =~ ^[0-9]+$ ]] && grep -qa fedtrain_nfq_delay "/proc/$pid/cmdline" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
      ! alive "$pid" || { echo "sites: the delay helper $pid did not stop on SIGTERM; killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    rm -f "$f" "${f%.pid}.log"
  done
  "$hosts_tool" down "$dir"
  rm -f "$dir/sites.conf" "$dir/link.json"
}

# --- probe ------------------------------------------------------------------------------------------
conf() { awk -v k="$1" '$1 == k { print $2 }' "$dir/sites.conf"; }

probe() {
  local seconds=4
  while [[ $# -gt 0 ]]; do
    case $1 in
      --seconds) seconds=${2:-}; shift 2 || usage ;;
      *) bad "unknown option '$1' of probe (expected --seconds S)" ;;
    esac
  done
  [[ $seconds =~ ^[1-9][0-9]*$ ]] || bad "--seconds must be a whole number of seconds, not '$seconds'"
  [[ -f $dir/sites.conf ]] || die "no sites in $dir: '$0 up $dir N --rate RATE' first"
  command -v iperf3 >/dev/null || die "probe needs iperf3: install iperf3 (launch/install-deps.sh does)"
  command -v ping >/dev/null || die "probe needs ping: install iputils-ping (launch/install-deps.sh does)"
  [[ $(wc -l <"$dir/hosts") -ge 2 ]] || die "probe measures the link between n1 and n2: make at least 2 sites"
  local a2 i out
  a2=$(awk '$1 == "n2" { print $2 }' "$dir/hosts")
  # iperf3 from n1 to n2 and back at once (--bidir), the first second (slow start) left out.
  run_on n2 "exec iperf3 -s -1 -p 5201 >/dev/null 2>&1" &
  local server=$!
  for ((i = 0; i < 50; i++)); do
    run_on n2 "ss -Hltn 'sport = :5201'" | grep -q LISTEN && break
    sleep 0.1
  done
  out=$(run_on n1 "iperf3 -c $a2 -p 5201 --bidir -t $((seconds + 1)) -O 1 -J") || {
    kill "$server" 2>/dev/null || true; die "iperf3 from n1 to n2 failed: $(jq -r '.error // empty' <<<"$out" 2>/dev/null)"; }
  wait "$server" || true
  local up_bps down_bps rtt
  up_bps=$(jq -r '.end.sum_received.bits_per_second' <<<"$out")
  down_bps=$(jq -r '.end.sum_received_bidir_reverse.bits_per_second' <<<"$out")
  # Idle round trip, n1 to n2 and back: the median of 11 pings. -U: user space to user space, as an
  # application sees it (ping's default, the kernel's receive timestamp, is taken before n1's own
  # delay, and would show half the round trip).
  local rtts
  rtts=$(run_on n1 "ping -U -c 11 -i 0.2 $a2" | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p')
  [[ -n $rtts ]] || die "ping from n1 to n2 got no answer"
  rtt=$(sort -g <<<"$rtts" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  jq -n --argjson set_rate "$(conf rate_bps)" --argjson up "$up_bps" --argjson down "$down_bps" \
    --argjson rtt "$rtt" --argjson rtt_min "$(sort -g <<<"$rtts" | head -1)" --argjson delay "$(conf delay_ms)" --argjson mtu "$(conf mtu)" --argjson s "$seconds" \
    --arg rate "$(conf rate)" \
    '{set_rate: $rate, set_rate_bps: $set_rate, measured_bps: ([$up, $down] | min | round),
      measured_bps_n1_to_n2: ($up | round), measured_bps_n2_to_n1: ($down | round),
      rtt_ms: $rtt, rtt_min_ms: $rtt_min, set_delay_ms: $delay, set_rtt_ms: (2 * $delay), mtu: $mtu, seconds: $s}' >"$dir/link.json"
  jq -r '"sites: link \(.set_rate) measured \(.measured_bps / 1e6 * 10 | round / 10) Mbit/s (\(100 * .measured_bps / .set_rate_bps * 10 | round / 10) % of set; n1->n2 \(.measured_bps_n1_to_n2 / 1e6 | round), n2->n1 \(.measured_bps_n2_to_n1 / 1e6 | round) at once), RTT \(.rtt_ms) ms (set \(.set_rtt_ms))"' "$dir/link.json"
}

run_on() { "$hosts_tool" exec "$dir" "$@"; }

# --- run ---------------------------------------------------------------------------------------------
# CMD runs in the background and the script waits for it: a trapped signal interrupts 'wait' at
# once (it would wait for a foreground CMD to end first). On INT or TERM, CMD gets SIGTERM and up to
# 10 s to end, then the sites go (on_exit).
cmd_pid=''
stop_cmd() {
  local i
  if [[ -n $cmd_pid ]]; then
    kill -TERM "$cmd_pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do alive "$cmd_pid" || break; sleep 0.1; done
  fi
  exit "$1"
}

run() {
  local args=()
  while [[ $# -gt 0 && $1 != -- ]]; do args+=("$1"); shift; done
  [[ ${1:-} == -- && $# -ge 2 ]] || bad "run needs '-- CMD...' after its options"
  shift
  parse_up_options "${args[@]}"
  trap 'stop_cmd 130' INT
  trap 'stop_cmd 143' TERM
  up "${args[@]}"
  probe
  local rc=0
  FEDTRAIN_SITES_DIR=$dir "$@" <&0 &
  cmd_pid=$!
  wait "$cmd_pid" || rc=$?
  cmd_pid=''
  exit "$rc"
}

# Removes what up made when up fails, and what run made however run ends (EXIT follows INT and TERM,
# whose traps exit).
made=0
on_exit() {
  local rc=$?
  if [[ $made == 1 ]]; then
    [[ $rc -eq 0 || $action == run ]] || echo "sites: up failed; removing what it made" >&2
    made=0
    down || rc=1
  fi
  exit "$rc"
}
trap on_exit EXIT

case $action in
  up) up "$@" ;;
  probe) probe "$@" ;;
  exec) exec "$hosts_tool" exec "$dir" "$@" ;;
  down) down ;;
  run) run "$@" ;;
  *) usage ;;
esac
