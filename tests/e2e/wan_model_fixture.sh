#!/usr/bin/env bash
# Remakes tests/e2e/wan_model_fixture.jsonl, the real measurements that e2e_wan_model fits the cost
# model on (not a test: run it by hand, as root, after 'cmake --build build-cpu'; about 6 minutes).
#
#   tests/e2e/wan_model_fixture.sh [OUT.jsonl]      default: tests/e2e/wan_model_fixture.jsonl
#
# For 2 and 3 stand-in hosts (launch/local-hosts.sh) and each TBF rate (every host's eth0 shaped,
# no delay: this kernel has no netem), 'fedtrain bench secagg' over the TCP leader transport beside
# MPI_Allreduce over btl tcp; at 1gbit with 2 sites also 256 KiB chunks (the per-chunk terms).
# Every row gets "set_rate_bps" and "delay_ms" (0) as the WAN matrix runner adds them, and
# "burst_bytes", the TBF bucket (tc's "burst 256kb" is 256 KiB).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/tests/e2e/wan_model_fixture.jsonl}
fedtrain=${FEDTRAIN_BIN:-$root/build-cpu/launch/fedtrain}
[[ -x $fedtrain ]] || { echo "wan_model_fixture: no $fedtrain: cmake --build build-cpu first" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "wan_model_fixture: needs root (network namespaces, tc)" >&2; exit 2; }

hosts=$(mktemp -d "${TMPDIR:-/tmp}/fedtrain-wanfix-XXXXXX")
raw=$hosts/raw.jsonl
cleanup() { "$root/launch/local-hosts.sh" down "$hosts" >/dev/null 2>&1 || true; rm -rf "$hosts"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# measure SITES TC_RATE LINK_RATE LINK_RATE_BPS MAX_BYTES [bench args...]
measure() {
  local sites=$1 rate=$2 link=$3 bps=$4 max=$5 i subnet ns list=""
  shift 5
  "$root/launch/local-hosts.sh" up "$hosts" "$sites" >/dev/null
  subnet=$(cat "$hosts/subnet")
  while read -r _ _ ns; do
    ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 50ms
  done <"$hosts/hosts"
  for ((i = 1; i <= sites; i++)); do list+=${list:+,}n$i; done
  : >"$raw"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --mca plm_rsh_agent \
    "$root/launch/local-hosts.sh exec $hosts" --host "$list" -n "$sites" --mca oob_tcp_if_include "$subnet" \
    --mca btl self,tcp --mca btl_tcp_if_include "$subnet" -x OPENBLAS_NUM_THREADS=1 \
    "$fedtrain" bench secagg --min-bytes 1M --max-bytes "$max" --transport tcp --interface eth0 --plain mpi \
    --link-rate "$link" --json "$raw" "$@"
  /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    row.update(set_rate_bps=float(sys.argv[2]), delay_ms=0.0, burst_bytes=float(sys.argv[3]))
    print(json.dumps(row, separators=(",", ":")))' "$raw" "$bps" "$burst" >>"$out.part"
  "$root/launch/local-hosts.sh" down "$hosts" >/dev/null
}

burst=262144  # tc's 256kb (kilobytes): the bucket each link starts an exchange with
rm -f "$out.part"
measure 2 100mbit 100M 1e8 8M
measure 3 100mbit 100M 1e8 8M
measure 2 1gbit 1G 1e9 16M
measure 3 1gbit 1G 1e9 16M
measure 2 1gbit 1G 1e9 16M --chunk-kib 256
mv "$out.part" "$out"
echo "wan_model_fixture: $(wc -l <"$out") rows in $out"
