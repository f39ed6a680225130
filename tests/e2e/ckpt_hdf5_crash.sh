#!/usr/bin/env bash
# 'fedtrain ckpt verify|inspect' survive a crash inside libhdf5: each file is read in a child
# process, so a file that kills libhdf5 (as some malformed files do with HDF5 1.10.8) is reported
# as failed, naming the signal, and the other files are still checked. The crash is made by an
# LD_PRELOAD shim (tests/support/h5crash.c) whose H5Fopen dies of SIGSEGV on the chosen file;
# before the child process, the command itself died of it (exit 139, no line for the good file).
# 'fedtrain generate' reads its checkpoint the same way (before: exit 139).
source "$(dirname "$0")/lib.sh"
: "${FEDTRAIN_H5CRASH_LIB:?run through ctest}"

dir=$WORK/ckpt
mkdir -p "$dir"
seed=$FEDTRAIN_SOURCE_DIR/tests/fuzz/seeds/checkpoint/fedavg.h5  # a real checkpoint of round 3
cp "$seed" "$dir/round-000001.h5"
cp "$seed" "$dir/round-000002.h5"

# ASan checks that it comes first in the library list unless told verify_asan_link_order=0: sound
# here, as the shim defines H5Fopen only, which ASan does not intercept.
shim=(LD_PRELOAD="$FEDTRAIN_H5CRASH_LIB" FEDTRAIN_H5CRASH_MATCH=round-000002)
[[ -z ${ASAN_OPTIONS:-} ]] || shim+=(ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")
# How the reader's end is told: by the signal, or in a sanitizer build by ASan's report (exit 86).
crashed="(was killed by signal 11|ended with exit code 86)"

expect_exit 0 "^ok: .*round-000001.h5" "verify of a good checkpoint (shim loaded, not matching)" -- \
  env "${shim[@]}" "$FEDTRAIN_BIN" ckpt verify "$dir/round-000001.h5"
expect_exit 1 "failed: checkpoint '.*round-000002.h5': the process reading it $crashed" \
  "verify of a file that crashes libhdf5" -- env "${shim[@]}" "$FEDTRAIN_BIN" ckpt verify "$dir/round-000002.h5"
out=$(env "${shim[@]}" "$FEDTRAIN_BIN" ckpt verify "$dir" 2>&1)
rc=$?
if [[ $rc -eq 1 ]] && grep -q "^ok: .*round-000001.h5" <<<"$out" && grep -qE "^failed: .*round-000002.h5.*$crashed" <<<"$out"; then
  pass "verify DIR reports the crashing file and still checks the good one"
else
  fail "verify DIR: exit $rc"; echo "$out" >&2
fi
expect_exit 1 "error: checkpoint '.*round-000002.h5': the process reading it $crashed" \
  "inspect of a file that crashes libhdf5" -- env "${shim[@]}" "$FEDTRAIN_BIN" ckpt inspect "$dir/round-000002.h5"
expect_exit 0 "job_id +fuzz" "inspect of a good checkpoint" -- env "${shim[@]}" "$FEDTRAIN_BIN" ckpt inspect "$dir/round-000001.h5"
# fedtrain generate reads its checkpoint in a child first too (runtime/io/guarded_read.h).
expect_exit 1 "checkpoint '.*round-000002.h5': libhdf5 crashed reading it: (killed by signal 11|ended with exit code 86)" \
  "generate from a file that crashes libhdf5" -- env "${shim[@]}" "$FEDTRAIN_BIN" generate --checkpoint "$dir/round-000002.h5" --prompt x

[[ $failures -eq 0 ]]
