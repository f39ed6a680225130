#!/usr/bin/env bash
# cmake --install into a private prefix: every file where docs/operations.md says, the modulefile
# loaded with Environment Modules puts fedtrain and fedtrain-mpirun on PATH, and the installed
# fedtrain-mpirun runs a short job with the installed fedtrain (no FEDTRAIN_BIN, no build tree).
source "$(dirname "$0")/lib.sh"
: "${FEDTRAIN_BUILD_DIR:?run through ctest}"
need_packages environment-modules
small_data "$WORK/data"
small_config "$WORK/run.ini" "$WORK/data"

prefix=$WORK/prefix
cmake --install "$FEDTRAIN_BUILD_DIR" --prefix "$prefix" >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; fail "cmake --install"; finish; }
for f in bin/fedtrain bin/fedtrain-mpirun share/fedtrain/slurm/fedtrain.sbatch share/fedtrain/slurm/fedtrain-hetjob.sbatch \
         share/fedtrain/slurm/fedtrain-site.sbatch \
         share/fedtrain/monitoring/fedtrain-alerts.yml share/fedtrain/monitoring/grafana-dashboard.json \
         share/doc/fedtrain/README.md share/doc/fedtrain/operations.md share/doc/fedtrain/examples/quickstart.ini \
         share/modules/modulefiles/fedtrain/0.1.0; do
  [[ -f $prefix/$f ]] && pass "installed $f" || fail "$prefix/$f missing"
done
[[ -x $prefix/bin/fedtrain && -x $prefix/bin/fedtrain-mpirun ]] || fail "bin/ not executable"

# The modulefile, as a user of the site meets it: nothing of fedtrain on PATH before, all of it after.
unset FEDTRAIN_BIN
export PATH=/usr/local/bin:/usr/bin:/bin MODULEPATH=
# shellcheck disable=SC1091
source /usr/share/modules/init/bash || { fail "cannot load Environment Modules"; finish; }
command -v fedtrain >/dev/null && [[ $(command -v fedtrain) != "$prefix/bin/fedtrain" ]] \
  && echo "note: another fedtrain on PATH: $(command -v fedtrain)"
module use "$prefix/share/modules/modulefiles"
module avail -t fedtrain 2>&1 | grep -qx 'fedtrain/0.1.0' && pass "module avail lists fedtrain/0.1.0" \
  || fail "module avail: $(module avail -t fedtrain 2>&1)"
module load fedtrain 2>"$WORK/module.err" || { cat "$WORK/module.err"; fail "module load fedtrain"; finish; }
[[ $(command -v fedtrain) == "$prefix/bin/fedtrain" && $(command -v fedtrain-mpirun) == "$prefix/bin/fedtrain-mpirun" ]] \
  && pass "module load puts fedtrain and fedtrain-mpirun on PATH" || fail "PATH after module load: $PATH"
[[ ${FEDTRAIN_ROOT:-} == "$prefix" && -f ${FEDTRAIN_SHARE:-}/slurm/fedtrain.sbatch && -f ${FEDTRAIN_EXAMPLES:-}/quickstart.ini ]] \
  && pass "FEDTRAIN_ROOT, FEDTRAIN_SHARE and FEDTRAIN_EXAMPLES" || fail "module variables: ${FEDTRAIN_ROOT:-} ${FEDTRAIN_SHARE:-}"
expect_exit 0 "^fedtrain 0\.1\.0 " "fedtrain version from PATH" -- fedtrain version
expect_exit 0 "starts as many ranks" "fedtrain-mpirun --help" -- fedtrain-mpirun --help

# A short job through the installed wrapper (it finds the fedtrain beside it).
out=$(cd "$WORK" && fedtrain-mpirun "$WORK/run.ini" --federation.rounds=1 --federation.local_steps=5 2>&1) \
  && grep -q "job e2e done: 1 rounds" <<<"$out" && pass "fedtrain-mpirun runs a job with the installed fedtrain" \
  || { echo "$out" | tail; fail "installed fedtrain-mpirun"; }
module unload fedtrain
[[ $(command -v fedtrain 2>/dev/null) != "$prefix/bin/fedtrain" ]] && pass "module unload takes it off PATH" \
  || fail "still on PATH after unload"
finish
