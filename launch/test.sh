#!/usr/bin/env bash
# Installs what fedtrain needs, builds it with its tests and runs the whole suite with ctest.
# Extra arguments go to ctest (e.g. -R mpi_ to run a subset).
#
# Where nvcc is found the default build has CUDA (build/); then a second, CPU-only build
# (build-cpu/, FEDTRAIN_WITH_CUDA=OFF) runs the suite as well, so both variants pass every
# CPU test. Without a GPU the GPU tests report themselves Skipped, by name.
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
exit $status
