# Shared helpers of the end-to-end tests (sourced). They drive the fedtrain CLI as a user would.
# ctest sets FEDTRAIN_BIN, FEDTRAIN_SOURCE_DIR and MPIEXEC.
set -uo pipefail
: "${FEDTRAIN_BIN:?run through ctest}" "${FEDTRAIN_SOURCE_DIR:?}" "${MPIEXEC:=mpiexec}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fedtrain-e2e-XXXXXX")
# at_exit COMMAND: run COMMAND when the script ends, pass or fail (latest first), before $WORK goes.
# A command that fails fails the test.
exit_hooks=()
at_exit() { exit_hooks=("$1" "${exit_hooks[@]}"); }
run_exit_hooks() {
  local rc=$? h
  for h in "${exit_hooks[@]}"; do
    eval "$h" || { echo "FAIL: clean-up '$h' failed" >&2; rc=1; }
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap run_exit_hooks EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# expect_exit CODE PATTERN DESCRIPTION -- COMMAND...
# Runs COMMAND, checks its exit code and that its output matches PATTERN (grep -E).
expect_exit() {
  local code=$1 pattern=$2 what=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $code ]]; then
    fail "$what: exit $rc, expected $code"; echo "$out" | tail -20 >&2; return
  fi
  if ! grep -qE -- "$pattern" <<<"$out"; then
    fail "$what: output lacks /$pattern/"; echo "$out" | tail -20 >&2; return
  fi
  pass "$what (exit $rc)"
}

# small_data DIR [extra fedtrain-data args]: a small real Fashion-MNIST split for sites es,de
# (IDX files from FEDTRAIN_FMNIST_SOURCE, default Debian's dataset-fashion-mnist).
small_data() {
  local dir=$1
  shift
  "$FEDTRAIN_BIN" data fashion-mnist --out "$dir" --sites es,de --train-limit 4000 --test-limit 1000 \
    --source "${FEDTRAIN_FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}" "$@" >/dev/null \
    || { echo "cannot prepare test data in $dir" >&2; exit 1; }
}

# site_keys DIR: key pairs of sites es and de in DIR (once).
site_keys() {
  local site
  for site in es de; do
    [[ -f $1/$site.key ]] || "$FEDTRAIN_BIN" keygen --site "$site" --out "$1" >/dev/null \
      || { echo "cannot make keys in $1" >&2; exit 1; }
  done
}

# site_sections DATADIR: the [site.es] and [site.de] sections of the test configs (2 ranks each, keys,
# egress logs under $WORK).
site_sections() {
  local site
  for site in es de; do
    printf '[site.%s]\nranks = 2\ndata = %s/train-%s.h5\npublic_key_file = %s/keys/%s.pub\nsecret_key = %s/keys/%s.key\negress_log = %s/egress-%s.jsonl\n' \
      "$site" "$1" "$site" "$WORK" "$site" "$WORK" "$site" "$WORK" "$site"
  done
}

# small_config FILE DATADIR: 2 sites x 2 ranks over DATADIR, a few short rounds, secure aggregation
# (two sites: acknowledged with federation.allow_two_participants).
small_config() {
  site_keys "$WORK/keys"
  cat >"$1" <<INI
[run]
job_id = e2e
metrics_file = $WORK/metrics.jsonl
[data]
test = $2/test.h5
batch_size = 32
[model]
hidden = 64
[federation]
rounds = 3
local_steps = 20
allow_two_participants = true
$(site_sections "$2")
INI
}

# skip REASON: the test cannot run here (ctest reports it skipped, SKIP_RETURN_CODE 77).
skip() { echo "SKIPPED: $*"; exit 77; }

# need_packages PKG...: installs Debian packages with launch/install-deps.sh, or skips the test.
need_packages() {
  local out
  out=$("$FEDTRAIN_SOURCE_DIR/launch/install-deps.sh" "$@" 2>&1) || skip "cannot install $*: $(tail -3 <<<"$out")"
}

# free_ports COUNT: the first of COUNT consecutive TCP ports on 127.0.0.1 that can all be bound now
# (launch/free-ports.sh, which says what race is left). Start what binds them right after.
free_ports() {
  local first
  first=$("$FEDTRAIN_SOURCE_DIR/launch/free-ports.sh" "$1" 127.0.0.1) || { echo "cannot find $1 free TCP port(s)" >&2; exit 1; }
  echo "$first"
}

# alive PID: the process exists and is not a zombie.
alive() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }

# stop_pid PID WHAT: SIGTERM, up to 10 s for it to end, then SIGKILL (said on stderr); reaps our children.
stop_pid() {
  local pid=$1 what=$2
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      echo "$what (pid $pid) ignored SIGTERM for 10 s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

finish() {
  if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}
