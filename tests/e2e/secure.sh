#!/usr/bin/env bash
# Secure aggregation through the CLI: key and manifest errors (exit 2), a tampered exchange that is
# rejected and retried, one that never stops failing (exit 1), a NaN site and the quorum, the
# egress log against the round table, its chain checked by 'fedtrain egress verify' (and a removed
# line, an edited byte, a symlink caught), and the plaintext mode's warning.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"
run4() { "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" "$@"; }
# Key overrides on the command line need --allow-security-overrides (tested below).
run4o() { run4 --allow-security-overrides "$@"; }
keys=$WORK/keys

# Key files and the manifest: exit 2, the site and the file named.
expect_exit 2 "site 'de': secret key file '$WORK/none.key' cannot be read" "missing secret key" -- \
  run4o --site.de.secret_key="$WORK/none.key"
cp "$keys/de.key" "$WORK/open.key" && chmod 640 "$WORK/open.key"
expect_exit 2 "site 'de': secret key file '$WORK/open.key' has mode 640, readable by group or others" \
  "group-readable secret key" -- run4o --site.de.secret_key="$WORK/open.key"
expect_exit 2 "site 'de': secret key file '$keys/es.key' does not match the site's public key" "another site's key" -- \
  run4o --site.de.secret_key="$keys/es.key"
expect_exit 2 "sites 'es' and 'de' have the same public key" "duplicate key in the manifest" -- \
  run4o --site.de.public_key_file="$keys/es.pub"
expect_exit 2 "site 'de': cannot read public key file '$WORK/none.pub'" "missing public key file" -- \
  run4o --site.de.public_key_file="$WORK/none.pub"
expect_exit 2 "cannot fit federation.clip = 4 with federation.frac_bits = 30" "no headroom" -- \
  run4 --federation.frac_bits=30
expect_exit 2 "federation.min_sites' = 1 with secure aggregation" "quorum of one" -- run4 --federation.min_sites=1

# Security settings come from the config file; the sites must share them (one config file per site, MPMD).
expect_exit 2 "federation.secure on the command line: security settings .* --allow-security-overrides" \
  "security key overridden on the command line without --allow-security-overrides" -- run4 --federation.secure=false
sed -e '/^ranks = 2$/d' "$cfg" >"$WORK/es.ini"
mpmd() { "$MPIEXEC" -n 2 "$FEDTRAIN_BIN" run --config "$WORK/es.ini" --site es : -n 2 "$FEDTRAIN_BIN" run --config "$WORK/de.ini" --site de; }
sed -e 's/^\[federation\]$/[federation]\nsecure = false/' "$WORK/es.ini" >"$WORK/de.ini"
expect_exit 2 "site 'de' runs with federation.secure = 'false', site 'es' with federation.secure = 'true'" \
  "a plaintext site among secure ones is refused at start, naming the key" -- mpmd
sed -e 's/^\[federation\]$/[federation]\nclip = 2/' "$WORK/es.ini" >"$WORK/de.ini"
expect_exit 2 "site 'de' runs with federation.clip = '2', site 'es' with federation.clip = '4'" \
  "a site with another clip is refused at start" -- mpmd
sed -e 's/^\[federation\]$/[federation]\nmin_sites = 3/' "$WORK/es.ini" >"$WORK/de.ini"
expect_exit 2 "site 'de' runs with federation.min_sites = '3', site 'es' with federation.min_sites = '2'" \
  "a site with another quorum is refused at start" -- mpmd
sed -e '/^allow_two_participants = true$/d' "$cfg" >"$WORK/two.ini"
expect_exit 2 "2 sites with secure aggregation: in every round each leader can compute the other site's update" \
  "two sites need federation.allow_two_participants" -- "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$WORK/two.ini"

# A clean run, then one where de's leader flips a bit of a round-2 message: rejected, retried, same model.
rm -f "$WORK"/egress-*.jsonl  # the refused runs above logged their settings messages
out=$(run4 2>&1) || { echo "$out"; fail "clean secure run"; finish; }
grep -q "aggregation secure" <<<"$out" || fail "the banner does not say secure aggregation"
grep -q "privacy: .*in a round of exactly 2 participants each learns the other's update" <<<"$out" \
  || fail "the banner does not say what two participants learn"
grep -q "federation.allow_two_participants = true: in a round with exactly two participants" <<<"$out" \
  || fail "no leader warns that two participants learn each other's update"
cp "$WORK/metrics.jsonl" "$WORK/clean.jsonl"
# The round table counts the exchange (settings, status, ring, outcome, totals); the log also holds the
# leaders' agreements (start-up checks, resume, checkpoint commits, the stop), which it must list.
grep -q '"phase":"agreement"' "$WORK/egress-es.jsonl" || fail "es's egress log lists none of the leaders' agreements"
logged=$(cat "$WORK"/egress-es.jsonl "$WORK"/egress-de.jsonl | grep -v '"phase":"agreement"' | grep -oE '"bytes":[0-9]+' | awk -F: '{ s += $2 } END { printf "%d", s }')
table=$(grep -oE '"egress_bytes":[0-9]+' "$WORK/metrics.jsonl" | awk -F: '{ s += $2 } END { printf "%d", s }')
echo "egress log $logged bytes, round table $table bytes"
[[ -n $logged && $logged -eq $table ]] || fail "egress log and round table disagree"
grep -vE '"sha256":"[0-9a-f]{64}"' "$WORK"/egress-*.jsonl && fail "egress lines without a SHA-256"
grep -q '"to":"es"' "$WORK/egress-es.jsonl" && fail "es logged a message to itself"
pass "egress log sums to the round table"

# The chain of every site's log is intact; a copy with a line removed, or a byte edited, is not.
for site in es de; do
  expect_exit 0 "^ok: $WORK/egress-$site.jsonl: [0-9]+ records, [0-9]+ bytes sent, rounds 0 to 3 " \
    "egress verify: $site's log is intact" -- "$FEDTRAIN_BIN" egress verify "$WORK/egress-$site.jsonl"
done
sed 4d "$WORK/egress-es.jsonl" >"$WORK/removed.jsonl"
expect_exit 1 "line 4 breaks the chain: .* lines between 3 and 4 were removed" "egress verify: a removed line" -- \
  "$FEDTRAIN_BIN" egress verify "$WORK/removed.jsonl"
sed '3s/"bytes":\([0-9]\)/"bytes":1\1/' "$WORK/egress-es.jsonl" >"$WORK/edited.jsonl"
cmp -s "$WORK/egress-es.jsonl" "$WORK/edited.jsonl" && fail "the edit did not change the copy"
expect_exit 1 "line 4 breaks the chain: .* line 3 was edited" "egress verify: an edited byte" -- \
  "$FEDTRAIN_BIN" egress verify "$WORK/edited.jsonl"
expect_exit 2 "cannot open egress log '$WORK/none.jsonl'" "egress verify: a missing file" -- \
  "$FEDTRAIN_BIN" egress verify "$WORK/none.jsonl"
ln -s "$WORK/egress-de.jsonl" "$WORK/link.jsonl"
expect_exit 1 "egress log '$WORK/link.jsonl' is a symbolic link" "a symlinked egress log is refused" -- \
  run4 --site.de.egress_log="$WORK/link.jsonl"

out=$(run4 --inject tamper:site=de,round=2,field=tag 2>&1)
rc=$?
[[ $rc -eq 0 ]] || { echo "$out" | tail; fail "tampered run: exit $rc"; }
grep -qE "round 2 attempt 0: reduce-scatter message .* from site 'de' to site 'es' rejected: authentication tag does not verify" <<<"$out" \
  && pass "tampered message rejected, sender, receiver and round named" || { echo "$out" | tail -20; fail "no rejection logged"; }
grep -q "the global model is unchanged (1 of 3 consecutive failures allowed)" <<<"$out" || fail "no failure count logged"
# Same losses and accuracies every round (the egress differs: the failed attempt's bytes did leave).
strip() { sed -E 's/,"egress_bytes".*//' "$1"; }
if cmp -s <(strip "$WORK/clean.jsonl") <(strip "$WORK/metrics.jsonl"); then
  pass "the retried round left no trace: same losses and accuracies as the clean run"
else
  fail "the tampered run's metrics differ from the clean run"
fi

expect_exit 1 "failed 3 times in a row \(federation.max_failed_rounds\); the job stops" "persistent tampering stops the job" -- \
  run4 --inject tamper:site=de,round=2,attempt=any

# A NaN update: de sits out; with 2 sites that is below the quorum, so round 2 is abandoned.
out=$(run4 --inject nan:site=de,round=2 2>&1) || { echo "$out" | tail; fail "NaN run failed"; }
grep -q "site 'de' sits the round out: its update has non-finite values" <<<"$out" && grep -q "round 2 abandoned" <<<"$out" \
  && pass "NaN site sits out, round abandoned below quorum" || { echo "$out" | tail -20; fail "NaN handling"; }
grep -q '"round":2,"sites":2,"participating":0' "$WORK/metrics.jsonl" || fail "round 2 should report 0 participating sites"

out=$(run4o --federation.secure=false 2>&1) || fail "plaintext run"
grep -q "model updates cross site borders IN CLEAR" <<<"$out" && pass "plaintext mode warns" || fail "no plaintext warning"

# Every run above appended to the same logs (one aborted): the chains continued, intact.
for site in es de; do
  expect_exit 0 "^ok: " "egress verify: $site's log after all runs" -- "$FEDTRAIN_BIN" egress verify "$WORK/egress-$site.jsonl"
done
finish
