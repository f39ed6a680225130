#!/usr/bin/env bash
# Bad input through the CLI: every error exits 2 (usage/config) or 1 (runtime), names the key or
# file at fault, and leaves no partial output behind.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"
run4() { "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run "$@"; }

# Config errors: exit 2, before any MPI work.
sed 's/^rounds = 3/round = 3/' "$cfg" >"$WORK/typo.ini"
expect_exit 2 "unknown config key 'federation.round'.*did you mean 'federation.rounds'" "unknown key in file" -- \
  "$FEDTRAIN_BIN" run --config "$WORK/typo.ini"
expect_exit 2 "unknown config key 'inner.learning_rate'" "unknown key on the command line" -- \
  run4 --config "$cfg" --inner.learning_rate=0.1
expect_exit 2 "config key 'federation.rounds': 'three' is not valid; expected an integer" "non-numeric value" -- \
  run4 --config "$cfg" --federation.rounds=three
expect_exit 2 "config key 'inner.optimizer': 'adam' is not valid; expected one of sgd, adamw" "value outside choices" -- \
  "$FEDTRAIN_BIN" run --config "$cfg" --inner.optimizer=adam
expect_exit 2 "add up to 4 ranks \(es=2, de=2\) but the MPI world has 3 ranks" "sites do not add up to the world" -- \
  "$MPIEXEC" -n 3 "$FEDTRAIN_BIN" run --config "$cfg"
expect_exit 2 "names site 'fr', which is not configured" "unknown --site" -- \
  "$FEDTRAIN_BIN" run --config "$cfg" --site fr
expect_exit 2 "cannot read config file" "missing config file" -- "$FEDTRAIN_BIN" run --config "$WORK/none.ini"
[[ ! -e $WORK/metrics.jsonl ]] || fail "a config error left a metrics file"

# Runtime errors on data: exit 1, the file named, no metrics file.
expect_exit 1 "cannot open HDF5 file '$WORK/missing.h5'" "missing data file" -- \
  run4 --config "$cfg" --site.de.data="$WORK/missing.h5"
h5copy -i "$data/train-es.h5" -o "$WORK/nolabels.h5" -s /features -d /features
expect_exit 1 "nolabels.h5': dataset '/labels' is missing" "data file without /labels" -- \
  run4 --config "$cfg" --site.es.data="$WORK/nolabels.h5"
h5copy -i "$data/train-es.h5" -o "$WORK/mismatch.h5" -s /features -d /features
h5copy -i "$data/test.h5" -o "$WORK/mismatch.h5" -s /labels -d /labels
expect_exit 1 "mismatch.h5': dataset '/labels' must be 1-D \[N\] with N = 2000" "labels of the wrong shape" -- \
  run4 --config "$cfg" --site.es.data="$WORK/mismatch.h5"
head -c 100000 "$data/train-de.h5" >"$WORK/truncated.h5"
expect_exit 1 "truncated.h5" "truncated HDF5 file" -- run4 --config "$cfg" --site.de.data="$WORK/truncated.h5"
[[ ! -e $WORK/metrics.jsonl ]] || fail "a data error left a metrics file"

# fedtrain data: bad usage exits 2; a truncated IDX file exits 1 and writes nothing.
expect_exit 2 "--partition': 'zipf' is not valid" "unknown partition" -- \
  "$FEDTRAIN_BIN" data fashion-mnist --out "$WORK/x" --sites es,de --partition zipf
expect_exit 2 "site 'es' is listed twice" "duplicate site" -- \
  "$FEDTRAIN_BIN" data fashion-mnist --out "$WORK/x" --sites es,es
src=$WORK/idx
mkdir -p "$src"
cp /usr/share/datasets/fashion-mnist/*.gz "$src/"
gzip -dc /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz | head -c 1000000 | gzip -c >"$src/train-images-idx3-ubyte.gz"
expect_exit 1 "train-images-idx3-ubyte.gz' is truncated" "truncated IDX file" -- \
  "$FEDTRAIN_BIN" data fashion-mnist --out "$WORK/out" --sites es,de --source "$src"
[[ ! -e $WORK/out ]] || fail "a failed 'fedtrain data' left $(ls "$WORK/out")"
finish
