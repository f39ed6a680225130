#!/usr/bin/env bash
# The table of docs/benchmarks.md "Emulated WAN links": for each RATE/DELAY/MTU, 2 sites made with
# bench/wan/sites.sh up, probed REPEAT times (each a fresh set of sites), removed; one Markdown row
# with the median and the range of the measured rate (the lower direction of iperf3 --bidir) and
# of the RTT (the median of 11 pings).
#
#   bench/wan/link-table.sh [--repeat R] [--seconds S] RATE[/DELAY_MS[/MTU]] ...
#   e.g. bench/wan/link-table.sh --repeat 3 100mbit/0 100mbit/10 1gbit/0 1gbit/10 10gbit/0 10gbit/10
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repeat=3 seconds=4
while [[ ${1:-} == --* ]]; do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "link-table: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ $# -ge 1 ]] || { echo "usage: $0 [--repeat R] [--seconds S] RATE[/DELAY_MS[/MTU]] ..." >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fedtrain-wan-table-XXXXXX")
trap '"$here/sites.sh" down "$dir/s" 2>/dev/null; rm -rf "$dir"' EXIT

# "median (min-max)" of the numbers on stdin, with the format FMT.
median_range() {
  sort -g | awk -v f="$1" '{ v[NR] = $1 } END { printf f " (" f "-" f ")", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

echo "| set rate | delay per receiver (ms) | MTU | measured rate (Mbit/s) | of set | set RTT (ms) | measured RTT (ms) |"
echo "|---|---|---|---|---|---|---|"
for spec in "$@"; do
  IFS=/ read -r rate delay mtu <<<"$spec"
  delay=${delay:-0} mtu=${mtu:-9000}
  : >"$dir/runs"
  for ((i = 0; i < repeat; i++)); do
    "$here/sites.sh" up "$dir/s" 2 --rate "$rate" --delay "$delay" --mtu "$mtu" >/dev/null
    "$here/sites.sh" probe "$dir/s" --seconds "$seconds" >/dev/null
    jq -r '"\(.measured_bps) \(.set_rate_bps) \(.rtt_ms) \(.set_rtt_ms)"' "$dir/s/link.json" >>"$dir/runs"
    "$here/sites.sh" down "$dir/s"
  done
  read -r _ set_bps _ set_rtt <"$dir/runs"
  mbps=$(awk '{ print $1 / 1e6 }' "$dir/runs" | median_range %.1f)
  share=$(awk '{ print 100 * $1 / $2 }' "$dir/runs" | median_range %.1f)
  rtt=$(awk '{ print $3 }' "$dir/runs" | median_range %.2f)
  echo "| $rate | $delay | $mtu | $mbps | $share % | $set_rtt | $rtt |"
done
