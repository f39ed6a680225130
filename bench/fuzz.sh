#!/usr/bin/env bash
# Runs one libFuzzer target for a while on its seed corpus: bench/fuzz.sh TARGET SECONDS [LIBFUZZER FLAGS...]
#
#   bench/fuzz.sh checkpoint 600
#   bench/fuzz.sh config 60 -dict=FILE               (extra flags go to libFuzzer)
#   bench/fuzz.sh checkpoint_raw 600 -fork=1 -ignore_crashes=1
#                                  (goes on past crashes, as for crashes inside libhdf5: see
#                                   docs/testing.md; every crasher is still kept and summarised)
#
# Targets (tests/fuzz/fuzz_TARGET.cc): config sealed_message checkpoint checkpoint_raw idx dataset
# dataset_raw text egress ledger handshake. checkpoint and dataset read the file as fedtrain does,
# through a child process; their _raw twins read it in the fuzzing process, which is what finds
# libhdf5's own crashers. A twin shares the seeds of its target (tests/fuzz/seeds/checkpoint/).
# It installs Debian's clang and libFuzzer runtime if missing (launch/install-deps.sh), configures
# build-fuzz/ once (clang, -DFEDTRAIN_FUZZ=ON: everything under ASan+UBSan with coverage; override
# the folder with FEDTRAIN_FUZZ_BUILD_DIR), builds the target, and runs it under `nice -n 10`
# (FEDTRAIN_FUZZ_NICE) with:
#   runs/fuzz/TARGET/corpus/    the growing corpus (kept between runs; the checked-in seeds
#                               tests/fuzz/seeds/TARGET/ are read, never written; _raw: its twin's)
#   runs/fuzz/TARGET/crashes/   crashers, leaks, timeouts (25 s) and out-of-memory inputs (2 GiB)
#   runs/fuzz/TARGET/log        libFuzzer's output
# (FEDTRAIN_FUZZ_OUT replaces runs/fuzz). Ends with one summary line: executions, corpus size,
# coverage (cov/ft as libFuzzer prints them) and crashers. Exit 0 without a crasher, 1 with one.
# A crasher becomes a regression: tests/fuzz/README.md says how.
set -euo pipefail
cd "$(dirname "$0")/.."

targets="config sealed_message checkpoint checkpoint_raw idx dataset dataset_raw text egress ledger handshake"
usage() {
  echo "usage: bench/fuzz.sh TARGET SECONDS [LIBFUZZER FLAGS...]; TARGET is one of: $targets" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
target=$1 seconds=$2
shift 2
[[ " $targets " == *" $target "* ]] || usage
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage

launch/install-deps.sh clang libclang-rt-dev  # clang++ and libFuzzer (libclang_rt.fuzzer)

build=${FEDTRAIN_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f $build/CMakeCache.txt ]]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release \
    -DFEDTRAIN_WITH_CUDA=OFF -DFEDTRAIN_BUILD_BENCH=OFF -DFEDTRAIN_FUZZ=ON "${launcher[@]}" >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "fuzz_$target" >/dev/null

out=${FEDTRAIN_FUZZ_OUT:-runs/fuzz}/$target
mkdir -p "$out/corpus" "$out/crashes"
before=$(find "$out/crashes" -type f | wc -l)
touch "$out/.started"
echo "fuzz.sh: $target for $seconds s; corpus $out/corpus, crashers to $out/crashes/, log $out/log" >&2
set +e
# libhdf5's own leaks on malformed files only (the reason is in the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}
# The HDF5 targets (both variants): libhdf5 asks malloc for whatever size a forged object header names (2^51
# bytes, or 20 GB before it checks that against the file's end) and handles the NULL that glibc's
# malloc returns; under ASan such a request is itself a report, or (20 GB) poisons gigabytes of
# shadow memory that the release build never touches, and libFuzzer's -malloc_limit_mb stops at
# it. So for these two an allocation over 2 GiB returns NULL, as in a process limited to 2 GiB,
# and libFuzzer's malloc limit is out of the way: a reader of fedtrain's that allocates what a file
# claims still fails, by the std::bad_alloc that escapes the target, or by touching over 2 GiB.
hdf5_flags=()
seeds=tests/fuzz/seeds/${target%_raw}
if [[ ${target%_raw} == checkpoint || ${target%_raw} == dataset ]]; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=2048:exitcode=86}
  hdf5_flags=(-malloc_limit_mb=1048576)
fi
nice -n "${FEDTRAIN_FUZZ_NICE:-10}" "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=25 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/" "${hdf5_flags[@]}" "$@" \
  "$out/corpus" "$seeds" >"$out/log" 2>&1
rc=$?
set -e
crashes=$(( $(find "$out/crashes" -type f | wc -l) - before ))
# -fork=N prints "#EXECS: cov: .. ft: .. corp: N ..." for the whole run; otherwise the DONE line and stats.
done_line=$(grep -E '^#[0-9]+: cov: ' "$out/log" | tail -1 || true)
if [[ -n $done_line ]]; then
  execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$done_line")
else
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$out/log" | tail -1 || true)
  [[ -n $done_line ]] || done_line=$(grep -E '^#[0-9]+[[:space:]].* cov: ' "$out/log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
fi
cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$done_line")
corp=$(sed -n 's/.* corp: \([0-9]*\(\/[0-9]*[a-zA-Z]*\)\{0,1\}\) .*/\1/p' <<<"$done_line")
stopped=""
[[ $crashes -gt 0 && " $* " != *" -ignore_crashes=1 "* ]] && stopped=" (stopped at the first crasher)"
echo "fuzz.sh: $target: $seconds s$stopped, ${execs:-?} executions, corpus ${corp:-?} (libFuzzer's count/size; $(find "$out/corpus" -type f | wc -l) files kept), cov ${cov:-?} ft ${ft:-?}, $crashes new crasher(s), libFuzzer exit $rc"
if [[ $crashes -gt 0 || $rc -ne 0 ]]; then
  # Where each crash happened: replay each one (with -fork=N -ignore_crashes=1 the run went on past them).
  for c in $(find "$out/crashes" -type f -newer "$out/.started"); do
    where=$("$build/tests/fuzz/fuzz_$target" "${hdf5_flags[@]}" "$c" 2>&1 | grep -m1 -E '^(SUMMARY|fuzz_[a-z_]+: )' || true)
    echo "  $(basename "$c"): ${where:-no longer crashes}" >&2
  done
  exit 1
fi
