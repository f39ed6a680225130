#!/usr/bin/env bash
# A training shard on which libhdf5 itself crashes (tests/fuzz/libhdf5/shard-link-lookup-segv.h5: a
# SEGV in H5F__accum_read under H5Lexists, in the release build too) ends a real job cleanly: each
# rank reads its shards in a child process first (runtime/io/guarded_read.h), so the job exits 1
# with a message naming the file, what happened and what to do; no rank dies by a signal, and the
# checkpoints already written are all still there, unchanged. 'fedtrain config' finds the same file
# before any MPI work (exit 2, naming the key). Before the guard, the rank reading the shard died of
# SIGSEGV and mpirun ended the job with exit 139 and no word about the file.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
cat >"$cfg" <<INI
[run]
job_id = e2e
metrics_file = $WORK/metrics.jsonl
[data]
test = $data/test.h5
batch_size = 32
[model]
hidden = 32
[federation]
rounds = 1
local_steps = 5
secure = false
[checkpoint]
every = 1
[site.es]
ranks = 1
data = $data/train-es.h5
checkpoint_dir = $WORK/ckpt/es
[site.de]
ranks = 1
data = $data/train-de.h5
checkpoint_dir = $WORK/ckpt/de
INI
run2() { "$MPIEXEC" -n 2 "$FEDTRAIN_BIN" run --config "$cfg" "$@"; }

out=$(run2 2>&1) || { echo "$out" >&2; fail "the first run, which writes the checkpoints of round 1"; finish; }
before=$(cd "$WORK/ckpt" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
[[ $(wc -l <<<"$before") -eq 2 ]] || { fail "expected 2 checkpoints, found: $before"; finish; }

crash=$WORK/shards/train-de.h5
mkdir -p "$WORK/shards"
cp "$FEDTRAIN_SOURCE_DIR/tests/fuzz/libhdf5/shard-link-lookup-segv.h5" "$crash"
# How the child's end is told: by the signal, or in a sanitizer build by ASan's report (exit 86).
crashed="libhdf5 crashed reading it: (killed by signal 11|ended with exit code 86)"

expect_exit 2 "config key 'site.de.data' names '$crash', which cannot be used: .*$crashed.*fedtrain data fashion-mnist" \
  "fedtrain config names the shard that crashes libhdf5" -- "$FEDTRAIN_BIN" config --config "$cfg" --site.de.data="$crash"

out=$(run2 --federation.rounds=2 --site.de.data="$crash" 2>&1)
rc=$?
if [[ $rc -eq 1 ]] && grep -qE "site de's training data '$crash': $crashed.*make it again with 'fedtrain data fashion-mnist" <<<"$out"; then
  pass "the job ends with exit 1 and names the shard, what happened and what to do"
else
  fail "a job with a shard that crashes libhdf5: exit $rc"; echo "$out" | tail -30 >&2
fi
# mpirun says "process rank N ... exited on signal S" of a rank that a signal killed. (The child's
# own crash report, Open MPI's "Process received signal" backtrace inherited from the rank, is expected.)
if [[ $rc -lt 128 ]] && ! grep -qE "exited on signal|mpirun noticed that process rank" <<<"$out"; then
  pass "no rank died by a signal"
else
  fail "a rank died by a signal (exit $rc)"; grep -E "exited on signal|noticed" <<<"$out" >&2
fi
after=$(cd "$WORK/ckpt" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
[[ $after == "$before" ]] && pass "the checkpoints of round 1 are all there, unchanged" \
  || { fail "the checkpoint dirs changed"; diff <(echo "$before") <(echo "$after") >&2; }

# The test file is guarded too (read by the first site's ranks), and a good shard still trains on.
expect_exit 1 "test file '$crash': $crashed" "a test file that crashes libhdf5" -- \
  run2 --federation.rounds=2 --data.test="$crash"
expect_exit 0 "job e2e done: 2 rounds" "the same job with the good shard resumes and trains round 2" -- \
  run2 --federation.rounds=2
finish
