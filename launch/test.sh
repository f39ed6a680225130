#!/usr/bin/env bash
# Installs what fedtrain needs, builds it with its tests and runs the whole suite with ctest.
# Extra arguments go to ctest (e.g. -R mpi_ to run a subset).
#
# Where nvcc is found the default build has CUDA (build/); then a second, CPU-only build
# (build-cpu/, FEDTRAIN_WITH_CUDA=OFF) runs the suite as well, so both variants pass every
# CPU test. Without a GPU the GPU tests report themselves Skipped, by name.
#
# Last, the same CPU-only suite runs in a sanitizer build (build-asan/: ASan + UBSan, RelWithDebInfo,
# FEDTRAIN_SANITIZE=address,undefined,float-cast-overflow), where a memory error, undefined behaviour or a leak of
# fedtrain's fails its test (docs/testing.md). It does not replace the CPU-only pass: it runs the same
# tests, but on code compiled otherwise (-O2 and instrumented, not the -O3 release that CPU-only
# clusters run), and the CPU-only pass costs a few minutes of a budget it fits many times over.
# FEDTRAIN_TEST_SANITIZERS=0 leaves the sanitizer pass out (a quicker local run; CI always has it).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
build=${FEDTRAIN_BUILD_DIR:-build}
FEDTRAIN_BUILD_DIR=$build launch/build.sh -DFEDTRAIN_BUILD_TESTS=ON
status=0
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@" || status=1
if grep -q "define FEDTRAIN_WITH_CUDA 1" "$build/generated/fedtrain/features.h"; then
  echo "test.sh: $build has CUDA; now the CPU-only variant in $build-cpu"
  FEDTRAIN_BUILD_DIR=$build-cpu launch/build.sh -DFEDTRAIN_WITH_CUDA=OFF -DFEDTRAIN_BUILD_TESTS=ON
  ctest --test-dir "$build-cpu" --output-on-failure -j "$(nproc)" "$@" || status=1
fi
if [[ ${FEDTRAIN_TEST_SANITIZERS:-1} != 0 ]]; then
  # The tests' ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS come from cmake/FedtrainTesting.cmake.
  echo "test.sh: now the sanitizer build (ASan + UBSan, CPU-only) in $build-asan"
  FEDTRAIN_BUILD_DIR=$build-asan launch/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEDTRAIN_WITH_CUDA=OFF \
    -DFEDTRAIN_BUILD_TESTS=ON -DFEDTRAIN_SANITIZE=address,undefined,float-cast-overflow
  ctest --test-dir "$build-asan" --output-on-failure -j "$(nproc)" "$@" || status=1
fi
exit $status
