#!/usr/bin/env bash
# fedtrain config as a user meets it: relative paths taken beside the config file, every key printed
# resolved, a check that passes only when a run could start (exit 2 naming key and path otherwise),
# --site NAME checking one site's own files, --KEY= unsetting a key, and --world-size of the whole
# world or of one site's job (as fedtrain-mpirun --site uses it). A short run from another working
# directory uses the same relative paths.
source "$(dirname "$0")/lib.sh"

fed=$WORK/fed
small_data "$fed/data"
site_keys "$fed/keys"
mkdir -p "$fed/etc" "$WORK/elsewhere"
cat >"$fed/etc/fed.ini" <<'INI'
[run]
job_id = check
metrics_file = ../runs/metrics.jsonl
[data]
test = ../data/test.h5
batch_size = 32
[model]
hidden = 32
[federation]
rounds = 1
local_steps = 5
allow_two_participants = true
[checkpoint]
every = 1
[site.es]
ranks = 1
data = ../data/train-es.h5
public_key_file = ../keys/es.pub
secret_key = ../keys/es.key
egress_log = ../runs/egress-es.jsonl
checkpoint_dir = ../runs/ckpt-es
[site.de]
ranks = 1
data = ../data/train-de.h5
public_key_file = ../keys/de.pub
secret_key = ../keys/de.key
egress_log = ../runs/egress-de.jsonl
checkpoint_dir = ../runs/ckpt-de
INI
cd "$WORK/elsewhere" || exit 1
check() { "$FEDTRAIN_BIN" config --config ../fed/etc/fed.ini "$@"; }

# 1. Paths beside the config file, not under the working directory; metrics_file printed resolved.
out=$(check 2>&1) || { echo "$out"; fail "fedtrain config of a good config"; finish; }
for line in "metrics_file = $fed/runs/metrics.jsonl" "test = $fed/data/test.h5" "data = $fed/data/train-de.h5" \
            "secret_key = $fed/keys/es.key" "checkpoint_dir = $fed/runs/ckpt-es"; do
  grep -qxF "$line" <<<"$out" && pass "resolved: $line" || fail "'$line' not in: $out"
done

# 2. Each file a run needs, missing or wrong: exit 2 naming key and path.
hide() { mv "$1" "$1.away"; }
back() { mv "$1.away" "$1"; }
for pair in "data.test:$fed/data/test.h5" "site.de.data:$fed/data/train-de.h5" \
            "site.de.public_key_file:$fed/keys/de.pub" "site.es.secret_key:$fed/keys/es.key"; do
  key=${pair%%:*} path=${pair#*:}
  hide "$path"
  expect_exit 2 "config key '$key' names '$path', which does not exist" "missing $key" -- check
  back "$path"
done
cp "$fed/keys/es.key" "$WORK/es.key.saved"
cp "$fed/keys/de.key" "$fed/keys/es.key"
expect_exit 2 "site 'es': secret key file '$fed/keys/es.key' does not match" "a secret key of another site" -- check
cp "$WORK/es.key.saved" "$fed/keys/es.key"
echo "not base64" >"$WORK/bad.pub"
expect_exit 2 "site 'de'.*$WORK/bad.pub" "a public key file that is no key" -- \
  check --allow-security-overrides --site.de.public_key_file="$WORK/bad.pub"
expect_exit 2 "config key 'site.de.data' names '$fed/data', which is not a regular file" "a folder as data" -- \
  check --site.de.data=../fed/data
: >"$WORK/plain"
expect_exit 2 "config key 'run.metrics_file' names '$WORK/plain/m.jsonl', which cannot be created: '$WORK/plain' is not a folder" \
  "metrics under a file" -- check --run.metrics_file=../plain/m.jsonl
expect_exit 2 "config key 'site.es.checkpoint_dir' names '$WORK/plain', which is not a folder" "a file as checkpoint folder" -- \
  check --site.es.checkpoint_dir="$WORK/plain"

# 3. --site NAME: only that site's own files (another site's data and secret key live elsewhere).
hide "$fed/keys/de.key"
hide "$fed/data/train-de.h5"
expect_exit 0 "secret_key = $fed/keys/es.key" "--site es with de's files elsewhere" -- check --site es
expect_exit 2 "config key 'site.de.data' names" "--site de checks de's files" -- check --site de
back "$fed/keys/de.key"
back "$fed/data/train-de.h5"

# 4. --KEY= unsets a key: no checkpoint folder left, checkpoint.every back to 0.
out=$(check --site.es.checkpoint_dir= --site.de.checkpoint_dir= --checkpoint.every= 2>&1) \
  && ! grep -q checkpoint_dir <<<"$out" && grep -qx "every = 0" <<<"$out" \
  && pass "--site.NAME.checkpoint_dir= unsets it" || fail "unset: $out"

# 5. --world-size: the whole world's ranks, or with --site NAME (or FEDTRAIN_SITE) that site's own
# job's (one job per site: every site has a leader address); an unknown site, a site without ranks or
# a config without leader addresses is exit 2 naming it. fedtrain-mpirun --site sizes one site's job
# the same way and refuses the same before starting mpirun.
leaders=(--site.es.leader=127.0.0.1:29501 --site.de.leader=127.0.0.1:29502)
expect_exit 0 "^4$" "--world-size: every site's ranks" -- check --world-size --site.es.ranks=3
expect_exit 0 "^3$" "--site es --world-size: es's ranks" -- check --site es --world-size --site.es.ranks=3 "${leaders[@]}"
expect_exit 0 "^1$" "FEDTRAIN_SITE=de --world-size: de's ranks" -- env FEDTRAIN_SITE=de "$FEDTRAIN_BIN" config \
  --config ../fed/etc/fed.ini --world-size --site.es.ranks=3 "${leaders[@]}"
expect_exit 2 "names site 'it', which is not configured; sites: es, de" "--site it --world-size" -- \
  check --site it --world-size "${leaders[@]}"
expect_exit 2 "site 'de' has no 'ranks', so the size of its job is not known: set \[site.de\] ranks = N" \
  "--site de --world-size, de without ranks" -- check --site de --world-size --site.de.ranks= "${leaders[@]}"
expect_exit 2 "gives the size of site es's own job, but this config runs the sites as one MPI world: one job per site needs \[site.NAME\] leader" \
  "--site es --world-size without leader addresses" -- check --site es --world-size
wrapper=$FEDTRAIN_SOURCE_DIR/launch/fedtrain-mpirun
expect_exit 0 "--site NAME.*starts only that site's job" "fedtrain-mpirun --help tells of --site" -- "$wrapper" --help
expect_exit 2 "names site 'it', which is not configured; sites: es, de" "fedtrain-mpirun --site it" -- \
  "$wrapper" --site it ../fed/etc/fed.ini "${leaders[@]}"
expect_exit 2 "names site 'it', which is not configured; sites: es, de" "FEDTRAIN_SITE=it fedtrain-mpirun" -- \
  env FEDTRAIN_SITE=it "$wrapper" ../fed/etc/fed.ini "${leaders[@]}"
expect_exit 2 "one job per site needs \[site.NAME\] leader" "fedtrain-mpirun --site es without leader addresses" -- \
  "$wrapper" --site es ../fed/etc/fed.ini
expect_exit 2 "--site needs a site name" "fedtrain-mpirun --site without a name" -- "$wrapper" --site

# 6. A run from here: data, keys, metrics and checkpoints where the config file says.
out=$("$MPIEXEC" -n 2 "$FEDTRAIN_BIN" run --config ../fed/etc/fed.ini 2>&1) || { echo "$out" | tail; fail "the run"; finish; }
[[ -s $fed/runs/metrics.jsonl && -d $fed/runs/ckpt-es && -s $fed/runs/egress-de.jsonl ]] \
  && pass "the run wrote beside the config file" || fail "outputs not in $fed/runs: $(ls -R "$fed/runs" 2>&1)"
[[ ! -e $WORK/elsewhere/runs ]] || fail "the run wrote under the working directory"
finish
