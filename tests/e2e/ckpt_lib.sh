# Helpers of the checkpoint end-to-end tests (sourced after lib.sh).

run4() { "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run "$@"; }

# ckpt_config FILE DATADIR: 2 sites x 2 ranks, 6 short rounds, DiLoCo outer momentum (so that outer
# state matters), a checkpoint every round, secure aggregation (a resumed run starts a new session). Checkpoint dirs and metrics come from `dirs NAME`.
ckpt_config() {
  site_keys "$WORK/keys"
  cat >"$1" <<INI
[run]
job_id = e2e
[data]
test = $2/test.h5
batch_size = 32
[model]
hidden = 64
[outer]
lr = 0.7
momentum = 0.9
nesterov = true
[federation]
rounds = 6
local_steps = 20
allow_two_participants = true
[checkpoint]
every = 1
keep_last = 3
$(site_sections "$2")
INI
}

# dirs NAME: the options that put a run's checkpoints under $WORK/NAME/{es,de} and its metrics in $WORK/NAME.jsonl.
dirs() {
  echo "--site.es.checkpoint_dir=$WORK/$1/es --site.de.checkpoint_dir=$WORK/$1/de --run.metrics_file=$WORK/$1.jsonl"
}

# state_of FILE: "path sha256" of every dataset of a checkpoint, after checking the file's hashes.
state_of() {
  "$FEDTRAIN_BIN" ckpt verify "$1" >/dev/null || { echo "damaged: $1"; return; }
  "$FEDTRAIN_BIN" ckpt inspect "$1" | awk '$1 ~ /^\// {print $1, $4}'
}

# same_state A B ROUND WHAT: both sites' checkpoints of ROUND in runs A and B hold identical model,
# optimizer (inner, step count, outer) and loader state.
same_state() {
  local a=$1 b=$2 round=$3 what=$4 site f
  f=$(printf 'round-%06d.h5' "$round")
  for site in es de; do
    if [[ ! -f $WORK/$a/$site/$f || ! -f $WORK/$b/$site/$f ]]; then
      fail "$what: $site/$f missing in $a or $b"; return
    fi
    if ! diff <(state_of "$WORK/$a/$site/$f") <(state_of "$WORK/$b/$site/$f") >"$WORK/diff.txt"; then
      fail "$what: site $site, round $round differs:"; cat "$WORK/diff.txt" >&2; return
    fi
  done
  [[ $(state_of "$WORK/$a/es/$f" | wc -l) -ge 15 ]] || { fail "$what: too few datasets in $a/es/$f"; return; }
  pass "$what: round $round of both sites is bit-identical (model, inner and outer optimizer, step count, loaders)"
}

# intact_rounds DIR: the rounds of DIR's checkpoints that verify, newest first.
intact_rounds() {
  "$FEDTRAIN_BIN" ckpt verify "$1" 2>/dev/null | sed -n 's/^ok: .*round-0*\([0-9][0-9]*\)\.h5:.*/\1/p' | sort -rn
}

# newest_common DIR_A DIR_B: the newest round both directories hold intact, or 0.
newest_common() {
  comm -12 <(intact_rounds "$1" | sort) <(intact_rounds "$2" | sort) | sort -rn | head -1 | grep . || echo 0
}
