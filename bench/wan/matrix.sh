#!/usr/bin/env bash
# The WAN matrix: `fedtrain bench secagg` across emulated sites (bench/wan/sites.sh), one row per
# (link rate, number of sites, size), appended as JSON lines to OUT. Every row is the bench's own
# JSON plus the link as sites.sh set and measured it: set_rate_bps, measured_bps (the best of three
# probes), delay_ms (one way), rtt_ms, burst_bytes (TBF's) and cores (this machine's, which all sites
# share). The link bound of each row uses the *measured* rate. Needs root (network namespaces).
#
#   bench/wan/matrix.sh [--sites "2 3 4 8"] [--rates "100mbit 1gbit 10gbit"] [--delay MS]
#                       [--min-bytes 1M] [--max-bytes 256M] [--iters N] [--out FILE.jsonl]
#                       [--fedtrain BIN] [-- BENCH-OPTIONS...]
#
# Defaults: the issue's matrix (2, 3, 4, 8 sites; 100 Mbit/s, 1 Gbit/s, 10 Gbit/s; 1 to 256 MiB; no
# delay). At 100mbit the largest size is capped at 64 MiB and at 3 timed calls unless --max-bytes or
# --iters say otherwise (a 256 MiB call takes 40 s there). Each path is timed alternately in the same
# run (the bench's own order), so the plain/secure ratio holds on a noisy machine.
# The secure exchange runs over fedtrain's TCP leader transport between the sites' eth0; the plaintext
# baseline is MPI_Allreduce over Open MPI's btl tcp on the same links (--plain mpi).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sites_tool=$here/sites.sh
sites="2 3 4 8" rates="100mbit 1gbit 10gbit" delay=0 min_bytes=1M max_bytes='' iters='' out=wan-matrix.jsonl
fedtrain=${FEDTRAIN_BIN:-$root/build/launch/fedtrain}
extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --sites) sites=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --min-bytes) min_bytes=$2; shift 2 ;;
    --max-bytes) max_bytes=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --fedtrain) fedtrain=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "matrix: unknown option '$1' (see the top of $0)" >&2; exit 2 ;;
  esac
done
[[ -x $fedtrain ]] || { echo "matrix: no fedtrain at '$fedtrain': build it (launch/build.sh) or pass --fedtrain BIN" >&2; exit 2; }
command -v jq >/dev/null || { echo "matrix: jq not found: launch/install-deps.sh installs it" >&2; exit 2; }
fedtrain=$(cd "$(dirname "$fedtrain")" && pwd)/$(basename "$fedtrain")

dir=''
cleanup() { [[ -z $dir ]] || "$sites_tool" down "$dir" >/dev/null 2>&1 || true; [[ -z $dir ]] || rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for rate in $rates; do
  for n in $sites; do
    dir=$(mktemp -d /tmp/fedtrain-wan.XXXXXX)
    "$sites_tool" up "$dir" "$n" --rate "$rate" --delay "$delay" >/dev/null
    # The link's rate: the best of three probes (a busy machine only ever lowers a probe's figure).
    measured=0
    for _ in 1 2 3; do
      "$sites_tool" probe "$dir"
      measured=$(jq -r --argjson m "$measured" '[.measured_bps, $m] | max' "$dir/link.json")
    done
    set_bps=$(jq -r .set_rate_bps "$dir/link.json")
    rtt=$(jq -r .rtt_ms "$dir/link.json")
    max=$max_bytes it=$iters
    if [[ $rate == 100mbit ]]; then max=${max:-64M} it=${it:-3}; fi
    hosts=$(seq -s, -f 'n%g' 1 "$n")
    subnet=$(cat "$dir/subnet")
    rows=$dir/rows.jsonl
    echo "# $n sites, link $rate (measured $(awk -v m="$measured" 'BEGIN { printf "%.0f", m / 1e6 }') Mbit/s, RTT $rtt ms)"
    mpirun --mca plm_rsh_agent "$sites_tool exec $dir" --host "$hosts" -n "$n" \
      --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" \
      -x OPENBLAS_NUM_THREADS=1 "$fedtrain" bench secagg --transport tcp --interface eth0 --plain mpi \
      --link-rate "$measured" --min-bytes "$min_bytes" --max-bytes "${max:-256M}" ${it:+--iters "$it"} \
      --json "$rows" "${extra[@]}" 2>&1 | grep -v -e '^\s*$' -e 'warning'
    burst=$(awk -v r="$set_bps" 'BEGIN { b = r / 8 * 0.002; if (b < 65536) b = 65536; printf "%.0f", b }')
    jq -c --argjson set "$set_bps" --argjson measured "$measured" --argjson delay "$delay" --argjson rtt "$rtt" \
      --argjson burst "$burst" --argjson cores "$(nproc)" \
      '. + {set_rate_bps: $set, measured_bps: $measured, delay_ms: $delay, rtt_ms: $rtt, burst_bytes: $burst,
            cores: $cores}' "$rows" >>"$out"
    cleanup
    dir=''
  done
done
echo "matrix: rows appended to $out"
