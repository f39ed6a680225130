#!/usr/bin/env bash
# The Debian package: cpack builds it, dpkg -i installs it, fedtrain and fedtrain-mpirun run from
# PATH, Debian's Environment Modules finds the modulefile, and dpkg -r leaves nothing behind.
# It installs into /usr: ctest runs it alone among the tests that use apt or dpkg (RESOURCE_LOCK),
# and it leaves a fedtrain package or a /usr/bin/fedtrain that it did not install alone (skipped).
source "$(dirname "$0")/lib.sh"
: "${FEDTRAIN_BUILD_DIR:?run through ctest}"
[[ -z ${FEDTRAIN_SANITIZED:-} ]] || skip "a sanitizer build ($FEDTRAIN_SANITIZED) is not packaged; build/ and build-cpu/ test the package"
[[ $(id -u) -eq 0 ]] || skip "dpkg -i needs root"
need_packages environment-modules
if dpkg-query -W -f='${Status}' fedtrain 2>/dev/null | grep -q installed || [[ -e /usr/bin/fedtrain ]]; then
  skip "a fedtrain package or /usr/bin/fedtrain is installed already; this test would replace and remove it"
fi

# dpkg takes its lock or fails at once: wait for other dpkg and apt users (up to 5 minutes).
dpkg_retry() {
  local out
  for _ in $(seq 60); do
    out=$("$@" 2>&1) && { echo "$out"; return 0; }
    grep -q "lock" <<<"$out" || { echo "$out"; return 1; }
    sleep 5
  done
  echo "$out"; return 1
}

cpack --config "$FEDTRAIN_BUILD_DIR/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 \
  || { cat "$WORK/cpack.log"; fail "cpack"; finish; }
deb=$(ls "$WORK"/pkg/fedtrain_0.1.0_*.deb) || { fail "no .deb in $WORK/pkg"; finish; }
depends=$(dpkg-deb -f "$deb" Depends)
for dep in openmpi-bin libopenmpi3 libhdf5 libssl3 libopenblas0; do
  grep -q "$dep" <<<"$depends" && pass "Depends names $dep" || fail "Depends lacks $dep: $depends"
done

at_exit 'dpkg-query -W fedtrain >/dev/null 2>&1 && dpkg_retry dpkg -r fedtrain >/dev/null; true'
dpkg_retry dpkg -i "$deb" >"$WORK/dpkg-i.log" || { cat "$WORK/dpkg-i.log"; fail "dpkg -i"; finish; }
pass "dpkg -i $(basename "$deb")"
(
  unset FEDTRAIN_BIN
  export PATH=/usr/bin:/bin
  [[ $(command -v fedtrain) == /usr/bin/fedtrain ]] || fail "fedtrain is not /usr/bin/fedtrain on PATH"
  expect_exit 0 "^fedtrain 0\.1\.0 " "fedtrain version from PATH" -- fedtrain version
  expect_exit 0 "starts as many ranks" "fedtrain-mpirun --help from PATH" -- fedtrain-mpirun --help
  expect_exit 0 "federation.rounds" "fedtrain run --help" -- fedtrain run --help
  # Debian's Environment Modules reads /usr/share/modules/modulefiles without a 'module use'.
  unset MODULEPATH
  # shellcheck disable=SC1091
  source /usr/share/modules/init/bash
  module load fedtrain/0.1.0 && [[ ${FEDTRAIN_ROOT:-} == /usr && -f $FEDTRAIN_SHARE/slurm/fedtrain.sbatch ]] \
    && pass "module load fedtrain/0.1.0 with Debian's MODULEPATH" || fail "module load: FEDTRAIN_ROOT=${FEDTRAIN_ROOT:-}"
  exit "$failures"
) || failures=$((failures + $?))
[[ -f /usr/share/doc/fedtrain/examples/quickstart.ini && -f /usr/share/fedtrain/slurm/fedtrain.sbatch \
   && -f /usr/share/fedtrain/slurm/fedtrain-site.sbatch ]] \
  && pass "docs, examples and templates in /usr/share" || fail "files missing under /usr/share"

listed=$(dpkg -L fedtrain)
dpkg_retry dpkg -r fedtrain >"$WORK/dpkg-r.log" || { cat "$WORK/dpkg-r.log"; fail "dpkg -r"; finish; }
left=()
while read -r path; do
  [[ -f $path || -L $path ]] && left+=("$path")
done <<<"$listed"
[[ ${#left[@]} -eq 0 && ! -e /usr/bin/fedtrain && ! -e /usr/bin/fedtrain-mpirun && ! -d /usr/share/fedtrain \
   && ! -d /usr/share/doc/fedtrain && ! -d /usr/share/modules/modulefiles/fedtrain ]] \
  && pass "dpkg -r fedtrain removes every file" || fail "left after dpkg -r: ${left[*]}"
dpkg-query -W -f='${Status}' fedtrain 2>/dev/null | grep -q "not-installed\|deinstall" || ! dpkg-query -W fedtrain >/dev/null 2>&1 \
  && pass "the package is gone" || fail "dpkg still lists fedtrain: $(dpkg-query -W -f='${Status}' fedtrain)"
finish
