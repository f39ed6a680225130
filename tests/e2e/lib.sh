# Shared helpers of the end-to-end tests (sourced). They drive the fedtrain CLI as a user would.
# ctest sets FEDTRAIN_BIN, FEDTRAIN_SOURCE_DIR and MPIEXEC.
set -uo pipefail
: "${FEDTRAIN_BIN:?run through ctest}" "${FEDTRAIN_SOURCE_DIR:?}" "${MPIEXEC:=mpiexec}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fedtrain-e2e-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
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

# small_config FILE DATADIR: 2 sites x 2 ranks over DATADIR, a few short rounds, secure aggregation.
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
[site.es]
ranks = 2
data = $2/train-es.h5
public_key_file = $WORK/keys/es.pub
secret_key = $WORK/keys/es.key
egress_log = $WORK/egress-es.jsonl
[site.de]
ranks = 2
data = $2/train-de.h5
public_key_file = $WORK/keys/de.pub
secret_key = $WORK/keys/de.key
egress_log = $WORK/egress-de.jsonl
INI
}

finish() {
  if [[ $failures -gt 0 ]]; then echo "$failures check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}
