#!/usr/bin/env bash
# Training through the public interface on real (small) Fashion-MNIST data: mpirun with sites as
# rank blocks, MPMD app contexts naming their sites, the metrics file, and the mpirun wrapper.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"

out=$("$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" 2>&1) || { echo "$out"; fail "mpirun by blocks"; finish; }
echo "$out"
grep -q "metrics: $WORK/metrics.jsonl" <<<"$out" || fail "metrics path not printed at start"
grep -qE "^fedtrain: job e2e done: 3 rounds, sites es=2 de=2, test accuracy" <<<"$out" || fail "no summary line"
[[ $(wc -l <"$WORK/metrics.jsonl") -eq 3 ]] || fail "metrics file should hold 3 lines"
for key in round test_accuracy test_loss egress_bytes seconds train_loss participating; do
  grep -q "\"$key\":" "$WORK/metrics.jsonl" || fail "metrics lack $key"
done
acc=$(tail -1 "$WORK/metrics.jsonl" | sed -E 's/.*"test_accuracy":([0-9.e-]+).*/\1/')
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' || fail "accuracy $acc after 3 short rounds on 4000 images, expected > 0.6"
pass "blocks: final accuracy $acc"

# MPMD: one app context per site, named with --site and with FEDTRAIN_SITE; same seeds, same result.
cp "$WORK/metrics.jsonl" "$WORK/blocks.jsonl"
sed -e '/^ranks = 2$/d' "$cfg" >"$WORK/named.ini"
out=$("$MPIEXEC" -n 2 "$FEDTRAIN_BIN" run --config "$WORK/named.ini" --site es : \
      -n 2 -x FEDTRAIN_SITE=de "$FEDTRAIN_BIN" run --config "$WORK/named.ini" 2>&1) || { echo "$out"; fail "MPMD run"; }
grep -q "sites es=2 de=2" <<<"$out" || fail "MPMD layout: $out"
cut -d, -f2-8 "$WORK/blocks.jsonl" >"$WORK/a"
cut -d, -f2-8 "$WORK/metrics.jsonl" >"$WORK/b"
cmp -s "$WORK/a" "$WORK/b" && pass "MPMD run equals the block run" || fail "MPMD metrics differ from the block run"

# The mpirun wrapper sizes the job from the config.
out=$(FEDTRAIN_BIN=$FEDTRAIN_BIN "$FEDTRAIN_SOURCE_DIR/launch/fedtrain-mpirun" "$cfg" --federation.rounds=1 2>&1) \
  || { echo "$out"; fail "fedtrain-mpirun"; }
grep -q "job e2e done: 1 rounds" <<<"$out" && pass "fedtrain-mpirun" || fail "fedtrain-mpirun output: $out"
finish
