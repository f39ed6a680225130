#!/usr/bin/env bash
# Emulated WAN sites (bench/wan/sites.sh): 2 sites at 100mbit with 10 ms of delay per receiver. The
# probe must measure the delay (an RTT within 20 % of 20 ms) and a rate the shaping caps (at most
# 110 % of 100 Mbit/s) that the delay helper still carries (at least half of it); down must leave no
# namespace, link or delay helper of them, and neither may 'run' when it is stopped with SIGTERM in
# the middle of its command. The shaping's accuracy (within 10 %) is e2e_wan_secagg's check, on
# links without the helper.
# Skipped (exit 77) without root or where network namespaces cannot be made.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || skip "emulated sites need root (network namespaces, tc, iptables)"
ip netns list >/dev/null 2>&1 || skip "no 'ip netns' here"
need_packages iproute2 iperf3 iputils-ping jq iptables
sites=$FEDTRAIN_SOURCE_DIR/bench/wan/sites.sh
sdir=$WORK/sites
at_exit '"$sites" down "$sdir"'

expect_exit 2 "--rate RATE is required" "up without --rate" -- "$sites" up "$WORK/bad" 2
expect_exit 2 "not a rate as tc takes it" "up with a rate tc would not take" -- "$sites" up "$WORK/bad" 2 --rate 100mb
expect_exit 2 "--delay must be milliseconds" "up with a bad delay" -- "$sites" up "$WORK/bad" 2 --rate 1gbit --delay soon
[[ ! -e $WORK/bad/hosts ]] && pass "bad usage made nothing" || fail "bad usage left $WORK/bad/hosts"

# What a set of sites in DIR is made of: its namespaces, its bridge, its helpers' pids.
made_of() {
  echo "namespaces: $(awk '{ print $3 }' "$1/hosts" | tr '\n' ' ')"
  echo "bridge: $(cat "$1/bridge")"
  echo "helpers: $(cat "$1"/nfq-*.pid 2>/dev/null | tr '\n' ' ')"
}
# Nothing left of what made_of listed: no namespace, no veth or bridge, no live helper.
check_gone() {
  local what=$1 list=$2 ns pid left=''
  for ns in $(sed -n 's/^namespaces: //p' <<<"$list"); do
    [[ -e /run/netns/$ns ]] && left+=" namespace $ns"
    ip link show "v$ns" >/dev/null 2>&1 && left+=" veth v$ns"
  done
  ns=$(sed -n 's/^bridge: //p' <<<"$list")
  ip link show "$ns" >/dev/null 2>&1 && left+=" bridge $ns"
  for pid in $(sed -n 's/^helpers: //p' <<<"$list"); do
    alive "$pid" && left+=" helper $pid"
  done
  [[ -z $left ]] && pass "$what: nothing left" || fail "$what left:$left"
}

out=$("$sites" up "$sdir" 2 --rate 100mbit --delay 10 2>&1) || { echo "$out"; skip "cannot make emulated sites: $(tail -1 <<<"$out")"; }
pass "$out"
list=$(made_of "$sdir")
[[ $(wc -w <<<"$(sed -n 's/^helpers: //p' <<<"$list")") -eq 2 ]] && pass "one delay helper per site" \
  || fail "delay helpers: $(sed -n 's/^helpers: //p' <<<"$list")"
# A busy machine (the suite runs tests side by side) only lowers a probe's rate and lengthens its RTT:
# up to 3 probes, until one is within bounds (bench/wan/matrix.sh takes the best of 3 likewise). The
# delay helper handles every packet in user space, so the rate it carries is the machine's: 89-98
# Mbit/s here, idle or not, but 62-80 Mbit/s in a CI run of the sanitizer build, whose helper is
# instrumented too. The upper bound is the check on the shaping (unshaped, veth carries Gbit/s).
within='.measured_bps >= 50e6 and .measured_bps <= 110e6'
probed=false
for _ in 1 2 3; do
  "$sites" probe "$sdir" --seconds 3 || continue
  probed=true
  jq -e "$within and .rtt_ms >= 16 and .rtt_ms <= 24" "$sdir/link.json" >/dev/null && break
done
if $probed; then
  jq -e "$within" "$sdir/link.json" >/dev/null \
    && pass "measured rate capped at 110 % of 100 Mbit/s and above half of it" || fail "measured rate: $(jq -c . "$sdir/link.json")"
  jq -e '.rtt_ms >= 16 and .rtt_ms <= 24 and .set_rtt_ms == 20' "$sdir/link.json" >/dev/null \
    && pass "RTT within 20 % of 20 ms" || fail "RTT: $(jq -c . "$sdir/link.json")"
  jq -e '.set_rate_bps == 100000000 and .set_delay_ms == 10' "$sdir/link.json" >/dev/null \
    && pass "link.json says what was set" || fail "link.json: $(jq -c . "$sdir/link.json")"
else
  fail "probe"
fi
"$sites" down "$sdir" && pass "down" || fail "down"
check_gone "down" "$list"

# run, stopped by SIGTERM while its command runs: the trap removes the sites all the same.
rdir=$WORK/run
at_exit '"$sites" down "$rdir"'
"$sites" run "$rdir" 2 --rate 100mbit --delay 10 -- bash -c 'touch "$FEDTRAIN_SITES_DIR/started"; exec sleep 120' \
  >"$WORK/run.out" 2>&1 &
run_pid=$!
for ((i = 0; i < 600; i++)); do [[ -e $rdir/started ]] || ! alive "$run_pid" && break; sleep 0.1; done
if [[ -e $rdir/started ]]; then
  list=$(made_of "$rdir")
  kill -TERM "$run_pid"
  wait "$run_pid"
  rc=$?
  [[ $rc -eq 143 ]] && pass "run stopped by SIGTERM exits 143" || fail "run stopped by SIGTERM exited $rc"
  check_gone "run stopped by SIGTERM" "$list"
else
  fail "run's command did not start in 60 s: $(cat "$WORK/run.out")"
  stop_pid "$run_pid" "sites.sh run"
fi
finish
