#!/usr/bin/env bash
# One config and seed, one model, however the federation is launched (issue 10): consecutive rank
# blocks, MPMD app contexts. Every leader prints the sha256 of its final global model; all must match.
# The launches get different OPENBLAS_NUM_THREADS, as a wrapper sizing OpenBLAS per host and a
# hand-typed mpirun would give them: OpenBLAS rounds differently for each thread count, so the model
# may depend on site.blas_threads only.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"

# final_hashes OUTPUT: the distinct final-model hashes the leaders printed, one per line.
final_hashes() { grep -oE 'global model after round [0-9]+ has sha256 [0-9a-f]{64}' <<<"$1" | awk '{print $NF}' | sort -u; }

# check_launch WHAT OUTPUT: both leaders printed one and the same hash; sets $hash.
check_launch() {
  local what=$1 out=$2 leaders
  leaders=$(grep -cE 'global model after round 3 has sha256' <<<"$out")
  hash=$(final_hashes "$out")
  if [[ $leaders -ne 2 || $(wc -l <<<"$hash") -ne 1 ]]; then
    fail "$what: expected one hash from both leaders, got $leaders line(s): $hash"; echo "$out" | tail -20 >&2
    hash=
  fi
}

out=$(OPENBLAS_NUM_THREADS=1 "$MPIEXEC" -x OPENBLAS_NUM_THREADS -n 4 "$FEDTRAIN_BIN" run --config "$cfg" 2>&1) \
  || { echo "$out"; fail "rank blocks"; finish; }
check_launch "rank blocks" "$out"
blocks=$hash

sed -e '/^ranks = 2$/d' "$cfg" >"$WORK/named.ini"
out=$("$MPIEXEC" -n 2 -x OPENBLAS_NUM_THREADS=2 "$FEDTRAIN_BIN" run --config "$WORK/named.ini" --site es : \
      -n 2 -x OPENBLAS_NUM_THREADS=2 "$FEDTRAIN_BIN" run --config "$WORK/named.ini" --site de 2>&1) \
  || { echo "$out"; fail "MPMD"; finish; }
grep -q "OPENBLAS_NUM_THREADS=2 is overridden" <<<"$out" || fail "MPMD: no word that OPENBLAS_NUM_THREADS is overridden"
check_launch "MPMD app contexts" "$out"
[[ -n $blocks && $hash == "$blocks" ]] && pass "MPMD app contexts and rank blocks end with model $blocks" \
  || fail "MPMD model $hash differs from the rank blocks' $blocks"

# site.blas_threads is part of the config: another value may train another model, and says so in the banner.
out=$("$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --site.blas_threads=2 2>&1) || { echo "$out"; fail "blas_threads 2"; }
grep -q "2 thread(s) per rank (site.blas_threads)" <<<"$out" && pass "site.blas_threads in the banner" \
  || fail "banner lacks site.blas_threads: $(grep kernels: <<<"$out")"
finish
