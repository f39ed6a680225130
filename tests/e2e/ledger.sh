#!/usr/bin/env bash
# The signed ledger of rounds through the CLI: keygen's signing keys, a 3-site run whose ledgers verify
# (and match the checkpoints and each other), the canonical bytes checked with openssl itself, the
# faults 'fedtrain ledger verify' rejects (a changed byte, a removed record, a reordered record, a
# signature by a key or site outside the manifest, a model that is not the checkpoint's), a crash that
# leaves the ledger ahead of the checkpoints, a plaintext run, and the configs that are refused.
source "$(dirname "$0")/lib.sh"
: "${FEDTRAIN_H5CRASH_LIB:?run through ctest}"
sites=(es de fr)
data=$WORK/data
"$FEDTRAIN_BIN" data fashion-mnist --out "$data" --sites es,de,fr --train-limit 3000 --test-limit 500 \
  --source "${FEDTRAIN_FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}" >/dev/null || { fail "data"; finish; }
keys=$WORK/keys

# keygen: both pairs for a new site; only the signing pair for a site that has its X25519 pair.
out=$("$FEDTRAIN_BIN" keygen --site es --out "$keys") || fail "keygen es"
for f in es.key es.sign.key; do [[ $(stat -c %a "$keys/$f") == 600 ]] || fail "$f is not mode 0600"; done
grep -q "signing_key = " <<<"$out" && grep -q "signing_secret_key = $keys/es.sign.key" <<<"$out" \
  || fail "keygen does not print the signing config lines: $out"
openssl pkey -in "$keys/es.sign.key" -noout -text 2>/dev/null | grep -q "ED25519 Private-Key" \
  && pass "keygen writes an Ed25519 signing key that openssl reads" || fail "es.sign.key is not an Ed25519 key"
"$FEDTRAIN_BIN" keygen --site de --out "$keys" >/dev/null && "$FEDTRAIN_BIN" keygen --site fr --out "$keys" >/dev/null
rm "$keys"/fr.sign.key "$keys"/fr.sign.pub
cp "$keys/fr.pub" "$WORK/fr.pub.before"
out=$("$FEDTRAIN_BIN" keygen --site fr --out "$keys") || fail "keygen for a site that has its X25519 pair"
cmp -s "$keys/fr.pub" "$WORK/fr.pub.before" && [[ -f $keys/fr.sign.key ]] && grep -q "kept its X25519 key pair" <<<"$out" \
  && pass "keygen keeps a site's X25519 pair and adds the signing pair" || fail "keygen upgrade: $out"
expect_exit 1 "exist already; a site keeps its keys" "keygen refuses to replace both pairs" -- \
  "$FEDTRAIN_BIN" keygen --site fr --out "$keys"

# sections NAME... : [site.NAME] sections, 1 rank each, with signing keys unless NOSIGN is set.
sections() {
  local s
  for s in "${sites[@]}"; do
    printf '[site.%s]\nranks = 1\ndata = %s/train-%s.h5\npublic_key_file = %s/%s.pub\nsecret_key = %s/%s.key\negress_log = %s/egress-%s.jsonl\ncheckpoint_dir = %s/ckpt/%s\n' \
      "$s" "$data" "$s" "$keys" "$s" "$keys" "$s" "$WORK" "$s" "$WORK" "$s"
    [[ -n ${NOSIGN:-} ]] || printf 'signing_key_file = %s/%s.sign.pub\nsigning_secret_key = %s/%s.sign.key\n' \
      "$keys" "$s" "$keys" "$s"
  done
}
config() {
  cat <<INI
[run]
job_id = ledger-e2e
metrics_file = $WORK/metrics.jsonl
[data]
test = $data/test.h5
batch_size = 32
[model]
hidden = 32
[federation]
rounds = 4
local_steps = 10
[checkpoint]
every = 1
keep_last = 10
$(sections)
INI
}
cfg=$WORK/run.ini
config >"$cfg"
NOSIGN=1 config >"$WORK/nosign.ini"
run3() { "$MPIEXEC" -n 3 "$FEDTRAIN_BIN" run "$@"; }
verify() { "$FEDTRAIN_BIN" ledger verify "$@" --config "$cfg"; }

# Without signing keys: the ledger is off, and the banner says so.
out=$(run3 --config "$WORK/nosign.ini" --federation.rounds=1 2>&1) || { echo "$out" | tail; fail "run without signing keys"; }
grep -q "^ledger: off: the manifest lists no signing keys" <<<"$out" && [[ ! -e $WORK/ckpt/es/ledger.jsonl ]] \
  && pass "no signing keys: ledger off, said in the banner" || fail "ledger-off banner: $out"
rm -rf "$WORK/ckpt"

# A clean run: every site's ledger verifies, matches its 4 checkpoints, and the three are identical.
out=$(run3 --config "$cfg" 2>&1) || { echo "$out" | tail -20; fail "clean run"; finish; }
grep -q "^ledger: every round signed by every leader (Ed25519); this site's in $WORK/ckpt/es/ledger.jsonl" <<<"$out" \
  || fail "the banner does not name the ledger: $out"
for s in "${sites[@]}"; do
  expect_exit 0 "^ok: $WORK/ckpt/$s/ledger.jsonl: job ledger-e2e, 4 records, rounds 1 to 4, 12 signatures verified, 4 checkpoint\(s\) match" \
    "ledger verify: $s's ledger" -- verify "$WORK/ckpt/$s"
done
cmp -s "$WORK/ckpt/es/ledger.jsonl" "$WORK/ckpt/de/ledger.jsonl" && cmp -s "$WORK/ckpt/es/ledger.jsonl" "$WORK/ckpt/fr/ledger.jsonl" \
  && pass "every site holds the same ledger" || fail "the sites' ledgers differ"
L=$WORK/ckpt/es/ledger.jsonl
jq -e -s 'length == 4 and all(.[]; (.participants | length) == 3 and (.signatures | length) == 3)' "$L" >/dev/null \
  && pass "each record is JSON with 3 participants and 3 signatures" || fail "records: $(head -1 "$L")"
[[ $(jq -r -s '[.[].participants[].samples] | unique | .[0]' "$L") == 1000 ]] || fail "sample counts: $(head -1 "$L")"

# The signed bytes as docs/security.md defines them, checked by openssl: the prefix line, then the
# record without its signatures.
line=$(sed -n 2p "$L")
body=$(sed -E 's/,"signatures":\[.*\]\}$/}/' <<<"$line")
printf 'fedtrain ledger record v1\n%s' "$body" >"$WORK/msg.bin"
jq -r '.signatures[] | select(.site == "de") | .ed25519' <<<"$line" | base64 -d >"$WORK/de.sig"
openssl pkey -in "$keys/de.sign.key" -pubout -out "$WORK/de.sign.pem" 2>/dev/null
openssl pkeyutl -verify -pubin -inkey "$WORK/de.sign.pem" -rawin -in "$WORK/msg.bin" -sigfile "$WORK/de.sig" >/dev/null 2>&1 \
  && pass "openssl verifies de's signature over the documented bytes" || fail "openssl rejects de's signature"
[[ $(jq -r '.prev_sha256' <<<"$line") == $(sed -n 1p "$L" | sha256sum | cut -d' ' -f1) ]] \
  && pass "prev_sha256 is the SHA-256 of the previous line with its newline" || fail "prev_sha256"

# Faults, each named by its line.
sed '2s/"samples":1000/"samples":1001/' "$L" >"$WORK/byte.jsonl"
expect_exit 1 "line 2 holds a signature of site 'es' that does not verify.*|line 3 breaks the chain" \
  "ledger verify: a changed byte" -- verify "$WORK/byte.jsonl"
grep -q "line 3 breaks the chain: .* line 2 was edited" <<<"$(verify "$WORK/byte.jsonl")" || fail "changed byte: no chain break at line 3"
sed 2d "$L" >"$WORK/removed.jsonl"
expect_exit 1 "line 2 breaks the chain: .* lines between 1 and 2 were removed" "ledger verify: a removed record" -- \
  verify "$WORK/removed.jsonl"
awk 'NR == 2 { held = $0; next } { print } NR == 3 { print held }' "$L" >"$WORK/reordered.jsonl"
expect_exit 1 "lines 2 and 3 are out of order|records round 2 after round 3" "ledger verify: a reordered record" -- \
  verify "$WORK/reordered.jsonl"
# A signature by a key outside the manifest, over the right bytes, in es's place.
openssl genpkey -algorithm ed25519 -out "$WORK/outsider.key" 2>/dev/null
out_sig=$(openssl pkeyutl -sign -inkey "$WORK/outsider.key" -rawin -in "$WORK/msg.bin" | base64 -w0)
es_sig=$(jq -r '.signatures[] | select(.site == "es") | .ed25519' <<<"$line")
awk -v a="$es_sig" -v b="$out_sig" 'NR == 2 { i = index($0, a); $0 = substr($0, 1, i - 1) b substr($0, i + length(a)) } { print }' \
  "$L" >"$WORK/outsider.jsonl"
expect_exit 1 "line 2 holds a signature of site 'es' that does not verify against that site's signing key in the manifest" \
  "ledger verify: a signature by a key outside the manifest" -- verify "$WORK/outsider.jsonl"
sed '2s/"site":"fr","ed25519"/"site":"xx","ed25519"/' "$L" >"$WORK/site.jsonl"
expect_exit 1 "line 2 holds a signature by 'xx', a site the manifest does not list" \
  "ledger verify: a signature by a site outside the manifest" -- verify "$WORK/site.jsonl"
mkdir -p "$WORK/swapped" && cp "$L" "$WORK/swapped/" && cp "$WORK/ckpt/es/round-000003.h5" "$WORK/swapped/round-000004.h5"
expect_exit 1 "line 4 records global model .* for round 4, but checkpoint .*round-000004.h5' holds model" \
  "ledger verify: a checkpoint that holds another model" -- verify "$WORK/swapped"
# A checkpoint beside the ledger on which libhdf5 crashes (H5Fopen dies of SIGSEGV through the shim of
# tests/support/h5crash.c): it is read in a child first, so verify reports it, naming it, instead of dying.
shim=(LD_PRELOAD="$FEDTRAIN_H5CRASH_LIB" FEDTRAIN_H5CRASH_MATCH=swapped/round-000004)
[[ -z ${ASAN_OPTIONS:-} ]] || shim+=(ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0")
expect_exit 1 "line 4 has a checkpoint of its round that cannot be read: checkpoint '.*round-000004.h5': libhdf5 crashed reading it: (killed by signal 11|ended with exit code 86)" \
  "ledger verify: a checkpoint that crashes libhdf5" -- env "${shim[@]}" "$FEDTRAIN_BIN" ledger verify "$WORK/swapped" --config "$cfg"
expect_exit 2 "cannot open ledger '$WORK/none.jsonl'" "ledger verify: a missing file" -- verify "$WORK/none.jsonl"
expect_exit 2 "config '$WORK/nosign.ini' lists no signing keys" "ledger verify: a config without signing keys" -- \
  "$FEDTRAIN_BIN" ledger verify "$L" --config "$WORK/nosign.ini"
expect_exit 2 "--config FILE is needed" "ledger verify without --config" -- "$FEDTRAIN_BIN" ledger verify "$L"

# A crash after round 3's ledger records, half-way through de's checkpoint of round 3: the job resumes after
# round 2, the ledgers' round-3 records move to ledger.jsonl.discarded, and the chain goes on, intact.
rm -rf "$WORK/ckpt"
run3 --config "$cfg" --inject crash:site=de,round=3,at=checkpoint_write >/dev/null 2>&1 && fail "the injected crash did not stop the job"
[[ $(wc -l <"$WORK/ckpt/es/ledger.jsonl") -eq 3 ]] || fail "before the restart es's ledger should hold rounds 1-3"
out=$(run3 --config "$cfg" 2>&1) || { echo "$out" | tail; fail "restart after the crash"; }
grep -q "1 record(s) of rounds after round 2, which this run trains again, moved to '$WORK/ckpt/es/ledger.jsonl.discarded'" <<<"$out" \
  && pass "the ledger ahead of the checkpoints is rolled back to the resumed round" || fail "no roll-back: $out"
for s in "${sites[@]}"; do
  expect_exit 0 "^ok: .* 4 records, rounds 1 to 4, 12 signatures verified, 4 checkpoint\(s\) match" \
    "ledger verify after the crash and resume: $s" -- verify "$WORK/ckpt/$s"
done
[[ $(jq -r .model_sha256 "$WORK/ckpt/es/ledger.jsonl.discarded") == $(sed -n 3p "$WORK/ckpt/es/ledger.jsonl" | jq -r .model_sha256) ]] \
  && pass "the re-trained round 3 has the model the discarded record holds (resume is bit-identical)" \
  || fail "the discarded round 3 and the re-trained one differ"

# Plaintext aggregation signs and carries the records too.
rm -rf "$WORK/ckpt"
run3 --config "$cfg" --allow-security-overrides --federation.secure=false --federation.rounds=2 >/dev/null 2>&1 \
  || fail "plaintext run with the ledger"
expect_exit 0 "^ok: .* 2 records, rounds 1 to 2, 6 signatures verified" "ledger verify: a plaintext run" -- verify "$WORK/ckpt/fr"

# Refused configs and files.
sed '/^signing_key_file = .*fr.sign.pub$/d' "$cfg" >"$WORK/partial.ini"
expect_exit 2 "site 'fr' has no signing key while other sites have one" "signing keys on some sites only" -- \
  run3 --config "$WORK/partial.ini"
expect_exit 2 "site 'de': signing secret key file '$keys/es.sign.key' does not match the site's signing key" \
  "another site's signing key" -- run3 --config "$cfg" --allow-security-overrides --site.de.signing_secret_key="$keys/es.sign.key"
expect_exit 2 "signing_secret_key on the command line: security settings" "signing key overridden on the command line" -- \
  run3 --config "$cfg" --site.de.signing_secret_key="$keys/es.sign.key"
expect_exit 2 "site 'de': cannot read signing key file '$WORK/none.pub'" "a missing signing key file, before MPI" -- \
  "$FEDTRAIN_BIN" run --config "$cfg" --allow-security-overrides --site.de.signing_key_file="$WORK/none.pub"
echo junk >"$WORK/junk.pub"
expect_exit 2 "site 'de': signing key file '$WORK/junk.pub' is not a base64 Ed25519 public key" \
  "a signing key file that is no key" -- \
  "$FEDTRAIN_BIN" run --config "$cfg" --allow-security-overrides --site.de.signing_key_file="$WORK/junk.pub"
ln -s "$WORK/elsewhere.jsonl" "$WORK/link.jsonl"
expect_exit 1 "ledger '$WORK/link.jsonl' is a symbolic link" "a symlinked ledger is refused" -- \
  run3 --config "$cfg" --site.es.ledger="$WORK/link.jsonl"
# One config per site (MPMD): verify reads it with --site; a site that lists another signing key for fr
# stops every site at start.
sed -e '/^ranks = 1$/d' "$cfg" >"$WORK/a.ini"
expect_exit 0 "^ok: .* 2 records" "ledger verify with a one-site config (--site)" -- \
  "$FEDTRAIN_BIN" ledger verify "$WORK/ckpt/fr" --config "$WORK/a.ini" --site fr
rm -rf "$WORK/ckpt"
"$FEDTRAIN_BIN" keygen --site zz --out "$WORK/k2" >/dev/null
sed -e "s|^signing_key_file = .*fr.sign.pub$|signing_key_file = $WORK/k2/zz.sign.pub|" "$WORK/a.ini" >"$WORK/b.ini"
expect_exit 2 "runs with ledger.signing_keys_sha256 = '[0-9a-f]{64}', site 'es' with ledger.signing_keys_sha256" \
  "sites with different signing keys are refused at start, naming the setting" -- \
  "$MPIEXEC" -n 1 "$FEDTRAIN_BIN" run --config "$WORK/a.ini" --site es : -n 1 "$FEDTRAIN_BIN" run --config "$WORK/b.ini" --site de \
  : -n 1 "$FEDTRAIN_BIN" run --config "$WORK/a.ini" --site fr
finish
