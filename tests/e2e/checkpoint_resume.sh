#!/usr/bin/env bash
# Checkpoints through the CLI on real (small) Fashion-MNIST data, 2 sites x 2 ranks under mpirun:
# a run stopped and resumed ends bit-identical to an uninterrupted one; so does a run whose rank was
# killed (kill -9) at a random point of training, or during a checkpoint write; the files are plain HDF5
# of mode 0600; a rotated site key stops a resume unless checkpoint.allow_manifest_change allows it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ckpt_lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
ckpt_config "$cfg" "$data"

# The reference: 6 rounds without interruption, under the usual umask (files 0644 unless fedtrain says otherwise).
umask 022
out=$(run4 --config "$cfg" $(dirs ref) 2>&1) || { echo "$out"; fail "reference run"; finish; }
grep -q "checkpoints: every 1 rounds, keep 3 per site" <<<"$out" || fail "checkpoint settings not printed"
grep -q "no checkpoint of job 'e2e' in '$WORK/ref/es': starting at round 1" <<<"$out" || fail "fresh start not stated"
[[ $(intact_rounds "$WORK/ref/es" | tr '\n' ' ') == "6 5 4 " ]] || fail "keep_last 3: es holds $(ls "$WORK/ref/es")"
# They hold the site's own optimizer state: readable by the owner only, although the run had umask 022.
modes=$(stat -c '%a' "$WORK/ref/es/"* "$WORK/ref/de/"* | sort -u)
[[ $modes == 600 ]] && pass "checkpoint files have mode 0600" || fail "checkpoint file modes: $modes"

# Plain HDF5: the standard tools read it.
h5ls -r "$WORK/ref/es/round-000006.h5" | grep -qE '^/model/layers.0.weight +Dataset \{64, 784\}' || fail "h5ls"
h5dump -a /job_id "$WORK/ref/es/round-000006.h5" | grep -q '"e2e"' || fail "h5dump of attribute job_id"
h5dump -d /optimizer/inner/steps "$WORK/ref/de/round-000006.h5" | grep -q '(0): 120' || fail "h5dump of the step count"
out=$("$FEDTRAIN_BIN" ckpt inspect "$WORK/ref/es/round-000006.h5")
grep -qE "^  round +6$" <<<"$out" && grep -qE "^  job_id +e2e$" <<<"$out" && grep -q "^  \[federation\]" <<<"$out" \
  && grep -qE "^  /optimizer/outer/momentum/layers.0.weight +float32 +\[64,784\] +[0-9a-f]{64} " <<<"$out" \
  && pass "h5ls, h5dump and fedtrain ckpt inspect read the checkpoint" || fail "ckpt inspect: $out"

# 1. Stopped after 3 rounds, then the same command with 6 rounds: it resumes by itself.
run4 --config "$cfg" $(dirs stop) --federation.rounds=3 >/dev/null 2>&1 || fail "3-round run"
out=$(run4 --config "$cfg" $(dirs stop) 2>&1) || { echo "$out"; fail "automatic resume"; }
grep -q "resuming job 'e2e' after round 3 from '$WORK/stop/es/round-000003.h5'" <<<"$out" || fail "resume not stated: $out"
grep -q "resumed after round 3" <<<"$out" || fail "header lacks the resumed round"
grep -qE "^ +3 +2/2" <<<"$out" && fail "round 3 was trained again"
same_state ref stop 6 "3 rounds, stopped, resumed for 3"
[[ $(cut -d, -f2 "$WORK/stop.jsonl" | tr '\n' ' ') == '"round":1 "round":2 "round":3 "round":4 "round":5 "round":6 ' ]] \
  && pass "the metrics file holds rounds 1..6 once" || fail "metrics after resume: $(cut -d, -f2 "$WORK/stop.jsonl")"
out=$(run4 --config "$cfg" $(dirs stop) 2>&1) && grep -q "already holds round 6 (federation.rounds = 6): nothing to train" <<<"$out" \
  && pass "a finished job says there is nothing to train" || fail "rerun of a finished job: $out"

# --resume insists on a checkpoint, and uses it.
expect_exit 1 "--resume: no site holds a checkpoint of job 'e2e'" "--resume without checkpoints" -- \
  run4 --config "$cfg" $(dirs flag) --resume
run4 --config "$cfg" $(dirs flag) --federation.rounds=2 >/dev/null 2>&1 || fail "2-round run"
run4 --config "$cfg" $(dirs flag) --resume >/dev/null 2>&1 || fail "--resume run"
same_state ref flag 6 "2 rounds, then --resume for 4"

# A site's key rotated: checkpoints written under the old federation manifest are refused (exit 2, nothing
# touched) unless --checkpoint.allow_manifest_change=true says the rotation was deliberate; the checkpoints
# written from then on carry the new manifest, so the next run needs no flag.
cp -r "$WORK/keys" "$WORK/keys2" && rm "$WORK/keys2/de.key" "$WORK/keys2/de.pub"
"$FEDTRAIN_BIN" keygen --site de --out "$WORK/keys2" >/dev/null || fail "keygen for the rotation"
sed "s#$WORK/keys/#$WORK/keys2/#" "$cfg" >"$WORK/rotated.ini"
grep -q "keys2/de.pub" "$WORK/rotated.ini" || fail "rotated.ini does not use the new key"
run4 --config "$cfg" $(dirs rot) --federation.rounds=2 >/dev/null 2>&1 || fail "2-round run before the rotation"
expect_exit 2 "cannot resume job 'e2e': checkpoint '$WORK/rot/(es|de)/round-000002.h5' was written under federation manifest [0-9a-f]{16}; the current manifest is [0-9a-f]{16} \(a site key changed\); to resume after a deliberate key rotation, pass --checkpoint.allow_manifest_change=true" \
  "a rotated key without checkpoint.allow_manifest_change" -- run4 --config "$WORK/rotated.ini" $(dirs rot) --federation.rounds=3
[[ $(intact_rounds "$WORK/rot/es" | tr '\n' ' ') == "2 1 " ]] || fail "the refused run changed $WORK/rot/es: $(ls "$WORK/rot/es")"
out=$(run4 --config "$WORK/rotated.ini" $(dirs rot) --federation.rounds=3 --checkpoint.allow_manifest_change=true 2>&1)
if [[ $? -eq 0 ]] && grep -q "resuming job 'e2e' after round 2 " <<<"$out" && grep -q "as checkpoint.allow_manifest_change = true asks" <<<"$out"; then
  pass "a rotated key with checkpoint.allow_manifest_change=true resumes after round 2, and says so"
else
  echo "$out" | tail >&2; fail "a rotated key with checkpoint.allow_manifest_change=true"
fi
out=$(run4 --config "$WORK/rotated.ini" $(dirs rot) --federation.rounds=4 2>&1)
[[ $? -eq 0 ]] && grep -q "resuming job 'e2e' after round 3 " <<<"$out" \
  && pass "the next run resumes under the new manifest without the flag" || { echo "$out" | tail >&2; fail "run after the rotation"; }

# 2. kill -9 during a checkpoint write: site de dies half-way through round 4's file. keep_last = 1,
# so the test also shows that es keeps round 3 until every site holds round 4.
out=$(run4 --config "$cfg" $(dirs crash) --checkpoint.keep_last=1 --inject crash:site=de,round=4,at=checkpoint_write 2>&1)
rc=$?
[[ $rc -ne 0 ]] || fail "the injected crash did not stop the job"
grep -q "killing this rank (SIGKILL) at checkpoint_write of round 4" <<<"$out" || fail "no injected crash: $out"
tmp=$WORK/crash/de/round-000004.h5.tmp
if [[ -f $tmp && ! -e $WORK/crash/de/round-000004.h5 ]] \
   && (($(stat -c %s "$tmp") < $(stat -c %s "$WORK/ref/de/round-000004.h5"))); then
  pass "the crash left a partly written $(basename "$tmp") ($(stat -c %s "$tmp") bytes) and no round-000004.h5 on de"
else
  fail "after the crash de holds: $(ls -l "$WORK/crash/de")"
fi
intact_rounds "$WORK/crash/es" | grep -qx 3 || fail "es removed round 3 before de held round 4: $(ls "$WORK/crash/es")"
"$FEDTRAIN_BIN" ckpt verify "$WORK/crash/de" | grep -q "ignored: $tmp: an unfinished write" || fail "verify ignores the temporary"
out=$(run4 --config "$cfg" $(dirs crash) --checkpoint.keep_last=1 2>&1) || { echo "$out"; fail "restart after the crash"; }
grep -q "removed '$tmp', left by a checkpoint write that did not finish" <<<"$out" || fail "temporary not cleaned up: $out"
grep -q "resuming job 'e2e' after round 3" <<<"$out" || fail "restart did not resume from round 3: $out"
same_state ref crash 6 "kill -9 during round 4's checkpoint write, restarted"
[[ $(ls "$WORK/crash/es") == "round-000006.h5" ]] || fail "keep_last 1: es holds $(ls "$WORK/crash/es")"

# 3. kill -9 of a random rank at a random point of training (longer rounds, so that the job is
# still training). The restart resumes from the newest round both sites hold intact.
long=(--federation.rounds=10 --federation.local_steps=100)
run4 --config "$cfg" $(dirs ref10) "${long[@]}" >/dev/null 2>&1 || fail "10-round reference"
seed=${FEDTRAIN_TEST_SEED:-$RANDOM}
RANDOM=$seed
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" $(dirs kill) "${long[@]}" >"$WORK/kill.out" 2>&1 &
mpirun_pid=$!
# A random point: within round k+1 (k random in 1..7, of 10), a random fraction of a round's time into it.
k=$((1 + RANDOM % 7))
for _ in $(seq 1200); do [[ -s $WORK/kill.jsonl && $(wc -l <"$WORK/kill.jsonl") -ge $k ]] && break; sleep 0.02; done
round_s=$(head -1 "$WORK/kill.jsonl" | sed -E 's/.*"seconds":([0-9.e+-]+).*/\1/')
sleep "$(awk -v s="$round_s" -v f=$((RANDOM % 100)) 'BEGIN { printf "%.3f", s * f / 100 }')"
ranks=($(pgrep -P "$mpirun_pid"))  # the ranks: mpirun's children (named "exe": fedtrain re-executes itself)
victim=$((RANDOM % ${#ranks[@]}))
kill -9 "${ranks[$victim]}"
wait "$mpirun_pid"
rc=$?
done_rounds=$(wc -l <"$WORK/kill.jsonl")
echo "kill -9 of rank process $((victim + 1)) of 4 (pid ${ranks[$victim]}) after $done_rounds rounds (FEDTRAIN_TEST_SEED=$seed): mpirun exit $rc"
[[ $rc -ne 0 && ${#ranks[@]} -eq 4 ]] || fail "the killed job should fail (exit $rc, ${#ranks[@]} ranks found)"
want=$(newest_common "$WORK/kill/es" "$WORK/kill/de")
out=$(run4 --config "$cfg" $(dirs kill) "${long[@]}" 2>&1) || { echo "$out"; fail "restart after kill -9"; }
if [[ $want -gt 0 ]]; then
  grep -q "resuming job 'e2e' after round $want " <<<"$out" && pass "restart resumed after round $want, the newest complete" \
    || fail "restart should resume after round $want: $(grep -E 'resuming|starting' <<<"$out")"
else
  grep -q "starting at round 1" <<<"$out" || fail "restart should start afresh"
fi
same_state ref10 kill 10 "kill -9 of a random rank, restarted"
finish
