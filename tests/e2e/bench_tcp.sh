#!/usr/bin/env bash
# fedtrain bench allreduce --transport tcp: the plaintext ring over the TCP leader transport gives the exact
# sums at every size (#wrong 0), for sizes whose messages cross Asio's 64 KiB step and the transport's
# 4 MiB chunk, on 2 and 3 leaders; --iters bounds the run, and a bad count is exit 2.
source "$(dirname "$0")/lib.sh"

bench() { "$MPIEXEC" -n "$1" --mca btl tcp,self "$FEDTRAIN_BIN" bench allreduce --ranks-per-site 1 --transport tcp "${@:2}"; }

for n in 2 3; do
  out=$(bench "$n" --min-bytes 48K --max-bytes 12M --iters 2 --warmup 1 2>&1)
  rc=$?
  # Rows: size count type redop | time algbw busbw #wrong | time algbw busbw #wrong | ratio
  rows=$(awk '$1 ~ /^[0-9]+$/ && $5 == "|"' <<<"$out")
  if [[ $rc -ne 0 || $(wc -l <<<"$rows") -ne 9 ]]; then
    fail "$n leaders: exit $rc, $(grep -c . <<<"$rows") rows (9 sizes expected)"; echo "$out" | tail -20 >&2; continue
  fi
  wrong=$(awk '$9 != 0 || $14 != 0' <<<"$rows")
  if [[ -n $wrong ]]; then fail "$n leaders: rows with wrong elements:"; echo "$wrong" >&2; else
    pass "$n leaders: 9 sizes from 48 KiB to 12 MiB, every element right over TCP and MPI"; fi
done

expect_exit 2 "--warmup and --iters are counts" "a negative --iters" -- bench 2 --iters -1

finish
