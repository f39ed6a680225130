#!/usr/bin/env bash
# Damaged and misplaced checkpoints through the CLI (2 sites x 2 ranks, real data): a truncated file,
# a flipped byte in a tensor, a flipped byte in an attribute, a file of another job and a file of
# another model are each found, named with the dataset or attribute at fault, skipped for the previous
# round, and the run ends as an uninterrupted one; so are hostile files (forged sizes, hashes recomputed),
# which `ckpt verify` rejects without crashing, and a file that crashes libhdf5 (made so by a shim).
# Checkpoints written for another model or site set
# are refused (exit 2), sites with nothing in common fail (exit 1), and a file system that refuses
# locks gets the HDF5_USE_FILE_LOCKING hint.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ckpt_lib.sh"
: "${FEDTRAIN_NOFLOCK_LIB:?run through ctest}" "${FEDTRAIN_FORGE_CKPT:?run through ctest}" "${FEDTRAIN_H5CRASH_LIB:?run through ctest}"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
ckpt_config "$cfg" "$data"
four=(--federation.rounds=4)

run4 --config "$cfg" $(dirs ref) "${four[@]}" >/dev/null 2>&1 || fail "4-round reference"
run4 --config "$cfg" $(dirs base) --federation.rounds=3 >/dev/null 2>&1 || fail "3-round run"
run4 --config "$cfg" $(dirs otherjob) --federation.rounds=3 --run.job_id=other >/dev/null 2>&1 || fail "other job"
run4 --config "$cfg" $(dirs othermodel) --federation.rounds=3 --model.hidden=32 >/dev/null 2>&1 || fail "other model"
f=round-000003.h5
victim=$WORK/case/es/$f

# flip_byte FILE OFFSET: xor one byte with 0x01, in place.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# damaged_case WHAT VERIFY_EXIT VERIFY_PATTERN RUN_PATTERN: $WORK/case is a copy of the 3-round run
# with es's round 3 spoiled by the caller; `ckpt verify` and the 4-round run must say what is wrong,
# the run must resume after round 2, and end with the reference's round 4.
damaged_case() {
  local what=$1 vexit=$2 vpattern=$3 rpattern=$4 out
  expect_exit "$vexit" "$vpattern" "$what: fedtrain ckpt verify" -- "$FEDTRAIN_BIN" ckpt verify "$victim"
  out=$(run4 --config "$cfg" $(dirs case) "${four[@]}" 2>&1) || { echo "$out" | tail; fail "$what: run"; return; }
  grep -qE -- "$rpattern.*; skipping it" <<<"$out" || { fail "$what: the run did not name it: $(grep -i skip <<<"$out")"; return; }
  grep -q "resuming job 'e2e' after round 2 from '$WORK/case/es/round-000002.h5'" <<<"$out" \
    || { fail "$what: did not resume from round 2: $(grep -E 'resum|start' <<<"$out")"; return; }
  same_state ref case 4 "$what, skipped for round 2"
}
fresh_case() {
  rm -rf "$WORK/case" "$WORK/case.jsonl"
  cp -r "$WORK/base" "$WORK/case"
}

fresh_case
head -c 300000 "$WORK/base/es/$f" >"$victim"
damaged_case "truncated file" 1 "failed: cannot open HDF5 file '$victim': truncated file" \
  "cannot open HDF5 file '$victim': truncated file"

fresh_case
offset=$(h5dump -p -H -d /model/layers.0.weight "$victim" | awk '/OFFSET/ {print $2}')
[[ -n $offset ]] || fail "h5dump gave no offset for /model/layers.0.weight"
flip_byte "$victim" $((offset + 4001))
damaged_case "flipped byte in tensor /model/layers.0.weight" 1 \
  "failed: checkpoint '$victim': dataset '/model/layers.0.weight' does not match its SHA-256" \
  "checkpoint '$victim': dataset '/model/layers.0.weight' does not match its SHA-256"

fresh_case
offset=$(grep -obUa "local_steps = 20" "$victim" | head -1 | cut -d: -f1)
[[ -n $offset ]] || fail "config text not found in $victim"
flip_byte "$victim" $((offset + 15))  # "local_steps = 21"
damaged_case "flipped byte in attribute config" 1 \
  "failed: checkpoint '$victim': attribute 'config' does not match its recorded SHA-256" \
  "checkpoint '$victim': attribute 'config' does not match its recorded SHA-256"

fresh_case
cp "$WORK/otherjob/es/$f" "$victim"
damaged_case "checkpoint of another job" 0 "^ok: .*job other, round 3" \
  "checkpoint '$victim' belongs to job 'other', not to this job 'e2e'"

fresh_case
cp "$WORK/othermodel/es/$f" "$victim"
damaged_case "checkpoint of another model" 0 "^ok: .*job e2e, round 3" \
  "checkpoint '$victim' holds another model \(attribute 'model_layout' layers.0.weight:32x784"

# Hostile files: sizes forged and every hash recomputed (the hashes are unkeyed). `ckpt verify` of the file
# and of its directory names the file and the fault and exits 1 (not a signal: no crash), the other rounds
# still verify, and the run skips the file for round 2.
hostile_case() {
  local kind=$1 pattern=$2 out rc
  fresh_case
  "$FEDTRAIN_FORGE_CKPT" "$WORK/base/es/$f" "$victim" "$kind" || { fail "cannot forge $kind"; return; }
  out=$("$FEDTRAIN_BIN" ckpt verify "$WORK/case/es" 2>&1)
  rc=$?
  if [[ $rc -ne 1 ]] || ! grep -qE -- "^failed: .*'$victim'.*$pattern" <<<"$out" \
     || [[ $(grep -c "^ok: .*round-00000[12].h5: job e2e" <<<"$out") -ne 2 ]] || grep -qiE "sanitizer|terminate" <<<"$out"; then
    fail "$kind: ckpt verify of the directory: exit $rc"; echo "$out" >&2; return
  fi
  damaged_case "hostile file: $kind" 1 "^failed: .*'$victim'.*$pattern" "'$victim'.*$pattern"
}
hostile_case wrapped-sum "model_layout: tensor 'a' of shape [0-9]+ has more than 2\^34"
hostile_case huge "model_layout: tensor 'a' of shape 1099511627776 has more than 2\^34"
hostile_case beyond-file "model_layout has 17179869184 elements \(68719476736 bytes\), more than the [0-9]+ bytes of the file"
hostile_case big-attribute "attribute 'config' is 104857600 bytes; string attributes are at most 1 MiB"
hostile_case array-attribute "attribute 'round' holds 1048576 values; it must hold one"

# A file that crashes libhdf5, as some malformed files do with HDF5 1.10.8 (docs/security.md): here
# the shim's H5Fopen dies of SIGSEGV on es's round 3. The leader's scan reads each file in a child
# process, so it names and skips the file and resumes from round 2; before, the leader died and
# took the job with it. (ASan: verify_asan_link_order=0, as for noflock below.)
fresh_case
crash=(LD_PRELOAD="$FEDTRAIN_H5CRASH_LIB" FEDTRAIN_H5CRASH_MATCH="$victim")
[[ -z ${ASAN_OPTIONS:-} ]] || crash+=(ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")
mpi_crash=()
for v in "${crash[@]}"; do mpi_crash+=(-x "$v"); done
if out=$("$MPIEXEC" "${mpi_crash[@]}" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" $(dirs case) "${four[@]}" 2>&1); then
  grep -qE "checkpoint '$victim': the process reading it (was killed by signal 11|ended with exit code 86).*; skipping it" <<<"$out" \
    || fail "a file that crashes libhdf5: the run did not name it: $(grep -i skip <<<"$out")"
  grep -q "resuming job 'e2e' after round 2 from '$WORK/case/es/round-000002.h5'" <<<"$out" \
    || fail "a file that crashes libhdf5: did not resume from round 2: $(grep -E 'resum|start' <<<"$out")"
  same_state ref case 4 "a file that crashes libhdf5, skipped for round 2"
else
  echo "$out" | tail >&2
  fail "a file that crashes libhdf5: the run failed"
fi

# Checkpoints that cannot continue this run: refused before any training, nothing touched.
expect_exit 2 "cannot resume job 'e2e': checkpoint '$WORK/base/(es|de)/$f' holds another model" "another model.hidden" -- \
  run4 --config "$cfg" $(dirs base) "${four[@]}" --model.hidden=32
sed 's/^\[site\.de\]/[site.fr]/' "$cfg" >"$WORK/fr.ini"
expect_exit 2 "written for the sites es,de; this run has the sites es,fr" "another set of sites" -- \
  run4 --config "$WORK/fr.ini" --site.es.checkpoint_dir="$WORK/base/es" --site.fr.checkpoint_dir="$WORK/fr" "${four[@]}"
expect_exit 2 "checkpoint_dir '$WORK/base/es' of site 'es' holds checkpoints of job 'e2e', not of 'third'" \
  "directories of another job" -- run4 --config "$cfg" $(dirs base) "${four[@]}" --run.job_id=third
[[ $(intact_rounds "$WORK/base/es" | tr '\n' ' ') == "3 2 1 " ]] || fail "a refused run changed $WORK/base/es"
fresh_case
rm "$WORK/case/de/"*
expect_exit 1 "no round is intact on every site \(es: intact rounds 3,2,1; de: intact rounds none;" \
  "no round in common" -- run4 --config "$cfg" $(dirs case) "${four[@]}"

# A file system without locks (flock fails with ENOLCK, as on NFS without lockd). In a sanitizer
# build the preloaded shim comes before the ASan runtime in the library list, which ASan refuses
# unless told verify_asan_link_order=0: sound here, as the shim defines flock() only, which ASan
# does not intercept, so every ASan interceptor still comes first.
noflock=(LD_PRELOAD="$FEDTRAIN_NOFLOCK_LIB")
[[ -z ${ASAN_OPTIONS:-} ]] || noflock+=(ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")
mpi_noflock=()
for v in "${noflock[@]}"; do mpi_noflock+=(-x "$v"); done
expect_exit 1 "unable to lock file.*set HDF5_USE_FILE_LOCKING=FALSE" "no locks: ckpt verify" -- \
  env "${noflock[@]}" "$FEDTRAIN_BIN" ckpt verify "$WORK/base/es/$f"
expect_exit 0 "^ok: " "no locks, HDF5_USE_FILE_LOCKING=FALSE: ckpt verify" -- \
  env "${noflock[@]}" HDF5_USE_FILE_LOCKING=FALSE "$FEDTRAIN_BIN" ckpt verify "$WORK/base/es/$f"
expect_exit 1 "unable to lock file.*set HDF5_USE_FILE_LOCKING=FALSE" "no locks: run" -- \
  "$MPIEXEC" "${mpi_noflock[@]}" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" $(dirs base) "${four[@]}"
expect_exit 0 "resuming job 'e2e' after round 3" "no locks, HDF5_USE_FILE_LOCKING=FALSE: run" -- \
  "$MPIEXEC" "${mpi_noflock[@]}" -x HDF5_USE_FILE_LOCKING=FALSE -n 4 "$FEDTRAIN_BIN" run \
  --config "$cfg" $(dirs base) "${four[@]}"
finish
