#!/usr/bin/env bash
# Installs what fedtrain needs, builds it with its tests and runs the whole suite with ctest.
# Extra arguments go to ctest (e.g. -R mpi_ to run a subset).
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-deps.sh
launch/build.sh -DFEDTRAIN_BUILD_TESTS=ON
ctest --test-dir "${FEDTRAIN_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
