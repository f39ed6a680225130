#!/usr/bin/env bash
# bench/wan/model.py and plots.py on real measurements (tests/e2e/wan_model_fixture.jsonl, made by
# tests/e2e/wan_model_fixture.sh over TBF-shaped stand-in hosts): the fitted parameters are physical
# and fit the rows, table's check passes a model within 15 % and fails one that is off, the
# projection gives the link bound and is link-bound with CPU to spare, the plots render, and bad
# input is exit 2 with a message.
source "$(dirname "$0")/lib.sh"

py=/usr/bin/python3  # Debian's numpy and matplotlib
/usr/bin/python3 -c 'import numpy, scipy, matplotlib' 2>/dev/null || need_packages python3-numpy python3-scipy python3-matplotlib
model="$py $FEDTRAIN_SOURCE_DIR/bench/wan/model.py"
plots="$py $FEDTRAIN_SOURCE_DIR/bench/wan/plots.py"
fixture=$FEDTRAIN_SOURCE_DIR/tests/e2e/wan_model_fixture.jsonl
rows=$(grep -c . "$fixture")
matrix=$FEDTRAIN_SOURCE_DIR/bench/wan/results/matrix-2026-12-01.jsonl  # the WAN matrix of docs/benchmarks.md

out=$($model fit "$fixture" --out "$WORK/model.json" 2>&1)
rc=$?
units=0
for unit in "eta +[0-9.]+ +effective fraction" "overlap +[0-9.]+ +fraction" "alpha_status +[0-9.]+ ms" \
  "alpha_hop +[0-9.]+ ms" "k_net +[0-9.]+ ns/B" "k_delay +[0-9.]+ ns/B" "serial +[0-9.]+ +extra wall time" \
  "k_local +[0-9.]+ ns/B" "k_mask +[0-9.]+ ns/B" "k_wire +[0-9.]+ ns/B"; do
  grep -qE "$unit" <<<"$out" && units=$((units + 1))
done
[[ $rc -eq 0 && $units -eq 10 ]] && pass "fit prints its 10 parameters with units" \
  || { fail "fit: exit $rc, $units of 10 parameters printed"; echo "$out" >&2; }
$py - "$WORK/model.json" <<'PY' && pass "the fitted parameters are physical" || fail "the fitted parameters are not physical"
import json, sys
m = json.load(open(sys.argv[1]))
assert 0.5 < m["eta"] <= 1.05, m            # a fraction of the link rate
assert 0 <= m["overlap"] <= 1, m
assert 0 <= m["alpha_status_s"] < 0.05, m    # latencies of a local bridge: under 50 ms
assert 0 <= m["alpha_hop_s"] < 0.05, m
assert 0 < m["k_local_s_per_byte"] < 1e-7 and 0 < m["k_wire_s_per_byte"] < 1e-7, m  # above 10 MB/s
PY

# How close the fit comes on this fixture: measured on 2 shared cores at a load of about 10, before the ring
# was pipelined across steps, the rows scatter by about 10 % between neighbouring sizes (2 MiB at 1 Gbit/s
# with 2 sites took 2.7x the bound, between 2.0x at 1 and 4 MiB), so the bounds here are the fixture's
# (root mean square 12 %, worst row 30 %), not the issue's 15 % goal, which 'table' checks.
out=$($py - "$FEDTRAIN_SOURCE_DIR/bench/wan" "$fixture" "$WORK/model.json" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import model
rows = model.secagg_rows([sys.argv[2]])
m = model.read_model(sys.argv[3])
e = model.errors(rows, m)
rms = (sum(x * x for x in e) / len(e)) ** 0.5
print(f"rms {100 * rms:.1f} % worst {100 * max(map(abs, e)):.1f} %")
sys.exit(not (rms <= 0.12 and max(map(abs, e)) <= 0.30))
PY
) && pass "fit on all $rows rows: $out" || fail "fit on all $rows rows: $out"

# The WAN matrix (112 rows, 2-8 emulated sites, 100 Mbit/s to 10 Gbit/s, 0 and 20 ms): the terms for the
# machine's shared cores are physical and the fit within what docs/benchmarks.md reports (root mean square
# 7.9 %, worst row 23.5 %); table prints the cross-validation, whose worst rows left out stay under 40 %.
$model fit "$matrix" --out "$WORK/matrix.json" >/dev/null || fail "fit on the WAN matrix"
$py - "$WORK/matrix.json" <<'PY' && pass "the WAN matrix's parameters are physical" || fail "the WAN matrix's parameters are not physical"
import json, sys
m = json.load(open(sys.argv[1]))
assert 0.85 < m["eta"] <= 1.05, m                          # against the rate iperf3 measured
assert 0.1e-9 < m["k_net_s_per_byte"] < 2e-9, m             # the kernel's TCP over veth: 0.5-10 GB/s of a core
assert 0 < m["k_delay_s_per_byte"] < 5e-9, m                # the NFQUEUE helper, per byte received
assert 0.2 < m["serial"] < 1.5, m                           # no crypto threads: up to twice the CPU time
assert 0 < m["alpha_status_s"] < 0.02 and 0 < m["alpha_hop_s"] < 0.005, m
PY
out=$($model table "$matrix" --model "$WORK/matrix.json" 2>&1)
rc=$?
summary=$(grep -o "max |error| [0-9.]* % over [0-9]* rows, root mean square [0-9.]* %" <<<"$out")
cv=$(grep -c "^cross-validated, .*: max |error| [0-9.]* % on rows left out" <<<"$out")
read -r worst rms < <(sed -n 's/.*max |error| \([0-9.]*\) % over.*square \([0-9.]*\) %.*/\1 \2/p' <<<"$out")
cvworst=$(sed -n 's/^cross-validated, .*: max |error| \([0-9.]*\) %.*/\1/p' <<<"$out" | sort -g | tail -1)
if [[ $rc -le 1 && $cv -eq 2 ]] && $py -c 'import sys; w, r, c = map(float, sys.argv[1:]); sys.exit(not (w <= 25 and r <= 9 and c <= 40))' \
     "${worst:-99}" "${rms:-99}" "${cvworst:-99}"; then
  pass "table on the WAN matrix: $summary; cross-validated worst $cvworst %"
else
  fail "table on the WAN matrix: exit $rc, '$summary', $cv cross-validations, worst $cvworst %"; echo "$out" >&2
fi

# table's exit status follows its worst row: 0 within 15 % (the 100 Mbit/s rows and a model fitted on
# them), 1 past it (the same model 30 % slow).
grep '"link_rate_bps":100000000.0' "$fixture" >"$WORK/r100.jsonl"
$model fit "$WORK/r100.jsonl" --out "$WORK/r100.json" >/dev/null
out=$($model table "$WORK/r100.jsonl" --model "$WORK/r100.json" --no-cv)
rc=$?
n100=$(grep -c . "$WORK/r100.jsonl")
if [[ $rc -eq 0 && $n100 -gt 5 && $(grep -c '^| [0-9]' <<<"$out") -eq $n100 ]] && grep -q "max |error|" <<<"$out"; then
  pass "table: the $n100 rows at 100 Mbit/s within 15 % ($(grep -o 'max |error| [0-9.]* %' <<<"$out"))"
else
  fail "table: exit $rc, expected 0 and $n100 rows"; echo "$out" >&2
fi
$py -c 'import json, sys; m = json.load(open(sys.argv[1])); m["eta"] *= 0.7; json.dump(m, open(sys.argv[2], "w"))' \
  "$WORK/r100.json" "$WORK/slow.json"
expect_exit 1 "misses a measurement by" "table fails a model 30 % off" -- $model table "$WORK/r100.jsonl" --model "$WORK/slow.json"

# 1e9 float32 over 32 sites at 10 Gbit/s: bound 2 x 31/32 x 4e9 x 8 / 1e10 = 6.20 s.
expect_exit 0 "link bound +6\.20 s" "project: the bound at 1B parameters, 32 sites, 10 Gbit/s" -- \
  $model project --model "$WORK/model.json" --params 1e9 --sites 32 --rate 10gbit
out=$($model project --model "$WORK/model.json" --params 1e9 --sites 32 --rate 10gbit --delay-ms 20 \
  --crypto-rate-gbps 100 --crypto-threads 8)
ratio=$(sed -n 's/.*predicted \/ bound *\([0-9.]*\)x.*/\1/p' <<<"$out")
eta=$($py -c 'import json, sys; print(json.load(open(sys.argv[1]))["eta"])' "$WORK/model.json")
# With CPU to spare (100 GB/s x 8 threads: 5 ms) the exchange is link-bound: bound / eta plus a little fill.
if $py -c 'import sys; r, e = map(float, sys.argv[1:]); sys.exit(not (1 / e <= r < 1 / e + 0.05))' "${ratio:-0}" "$eta"; then
  pass "project with fast crypto: link-bound, ${ratio}x the bound (eta $eta)"
else
  fail "project with fast crypto: ${ratio:-no ratio}x the bound, expected 1/eta (eta $eta)"; echo "$out" >&2
fi
grep -q "100 GB/s of the vector per thread (given).*over 8 thread" <<<"$out" && pass "project prints its CPU assumption" \
  || { fail "project does not print its CPU assumption"; echo "$out" >&2; }

expect_exit 0 "wan-model.png" "plots render" -- $plots "$fixture" --out-dir "$WORK/img" --model "$WORK/model.json"
for png in wan-bound-ratio wan-sites wan-model; do
  if [[ $(head -c 8 "$WORK/img/$png.png" 2>/dev/null | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a && \
        $(stat -c %s "$WORK/img/$png.png") -gt 10000 ]]; then
    pass "$png.png is a PNG"
  else
    fail "$png.png missing or not a PNG"
  fi
done

# Bad input: exit 2 and what to do.
echo 'not json' >"$WORK/bad.jsonl"
expect_exit 2 "bad.jsonl:1: not a JSON object" "a file that is not JSON lines" -- $model fit "$WORK/bad.jsonl"
sed 's/"link_rate_bps":[0-9.e+]*/"link_rate_bps":0/' "$fixture" >"$WORK/norate.jsonl"
expect_exit 2 "link_rate_bps is 0: run the bench with --link-rate" "rows without a link rate" -- $model fit "$WORK/norate.jsonl"
expect_exit 2 "no \"bench\":\"secagg\" rows" "no secagg rows" -- $model fit /dev/null
expect_exit 2 "is not a rate" "a rate that is not one" -- $model project --model "$WORK/model.json" --params 1e9 --sites 32 --rate fast
expect_exit 2 "cannot read the model" "a missing model" -- $model table "$fixture" --model "$WORK/none.json"
$py -c 'import json, sys; m = json.load(open(sys.argv[1])); del m["k_net_s_per_byte"]; json.dump(m, open(sys.argv[2], "w"))' \
  "$WORK/model.json" "$WORK/old.json"
expect_exit 2 "lacks the model's parameters.*make it .again. with 'model.py fit'" "a model without the shared-core terms" -- \
  $model table "$fixture" --model "$WORK/old.json"
finish
