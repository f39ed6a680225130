#!/usr/bin/env bash
# The GPT and run.device through the CLI: two text sites (es, de) of one rank each, a tiny GPT.
#
#   default part (e2e_gpt_device): what this build and machine must do. A CPU-only build refuses
#     run.device = cuda (exit 2, before any MPI work), a CUDA build on a machine without a GPU stops the
#     start-up on every rank (exit 1), and run.device = auto trains the GPT on the CPU in every build.
#   FEDTRAIN_GPT_DEVICE_PART=gpu (e2e_gpt_cuda; skipped without a GPU): 2 rounds on the GPU, finishing
#     with a finite validation bits per byte for every site, within 0.05 of the same job on the CPU; and a
#     GPU run stopped after round 1 and resumed is bit-identical at round 2 to an uninterrupted one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ckpt_lib.sh"
part=${FEDTRAIN_GPT_DEVICE_PART:-default}

version=$("$FEDTRAIN_BIN" version)
cuda=off gpus=0
grep -q "(cuda on" <<<"$version" && cuda=on
[[ $cuda == on ]] && gpus=$(sed -nE 's/^gpus: ([0-9]+) visible.*/\1/p' <<<"$version")
gpus=${gpus:-0}
echo "build: cuda $cuda, GPUs visible: $gpus"
[[ $part == gpu && $gpus -eq 0 ]] && skip "no GPU here (cuda $cuda): the GPT on the GPU needs one"

# Small texts the repository ships, one per site (the test needs bytes, not languages).
docs=$FEDTRAIN_SOURCE_DIR/docs
cat "$docs/security.md" "$docs/operations.md" >"$WORK/es.txt"
cat "$docs/architecture.md" "$docs/testing.md" >"$WORK/de.txt"
"$FEDTRAIN_BIN" data text --out "$WORK/text" --sites es,de --val-fraction 0.1 \
  --text "es=$WORK/es.txt,de=$WORK/de.txt" >/dev/null || { fail "fedtrain data text"; finish; }
cfg=$WORK/gpt.ini
cat >"$cfg" <<INI
[run]
job_id = e2e-gpt-device
metrics_file = $WORK/metrics.jsonl
[data]
batch_size = 8
[model]
kind = gpt
layers = 2
heads = 2
dim = 32
context = 32
[inner]
optimizer = adamw
lr = 0.003
weight_decay = 0.1
[outer]
lr = 0.7
momentum = 0.9
nesterov = true
[federation]
rounds = 2
local_steps = 10
secure = false
INI
for site in es de; do
  printf '[site.%s]\nranks = 1\ndata = %s\nval = %s\n' "$site" "$WORK/text/train-$site.h5" "$WORK/text/val-$site.h5" >>"$cfg"
done
run2() { "$MPIEXEC" -n 2 "$FEDTRAIN_BIN" run --config "$cfg" "$@"; }
# final_bpb FILE: the last round's val_bpb in a metrics file.
final_bpb() { tail -1 "$1" | sed -nE 's/.*"val_bpb":([0-9.]+(e[-+]?[0-9]+)?),.*/\1/p'; }

if [[ $part != gpu ]]; then
  expect_exit 0 "device: site es on cpu" "run.device = auto trains the GPT on the CPU" -- run2 --federation.rounds=1
  if [[ $cuda == off ]]; then
    expect_exit 2 "run.device = cuda, but this fedtrain was built without CUDA" "GPT with cuda in a CPU-only build" -- \
      run2 --run.device=cuda
  elif [[ $gpus -eq 0 ]]; then
    expect_exit 1 "run.device = cuda, but this rank sees no CUDA device on host" "GPT with cuda without a GPU" -- \
      run2 --run.device=cuda
  else
    echo "this machine has a GPU: e2e_gpt_cuda trains the GPT on it"
  fi
  finish
  exit
fi

# The same job on the CPU (the reference) and on the GPU.
run2 --run.device=cpu --run.metrics_file="$WORK/cpu.jsonl" >"$WORK/cpu.out" 2>&1 \
  || { tail -20 "$WORK/cpu.out"; fail "the GPT on the CPU"; }
out=$(run2 --run.device=cuda --run.metrics_file="$WORK/gpu.jsonl" 2>&1)
rc=$?
[[ $rc -eq 0 ]] && pass "the GPT trains 2 rounds with run.device = cuda" || { echo "$out" | tail -20; fail "GPU run: exit $rc"; }
grep -qE "^device: site es on cuda:[0-9]+" <<<"$out" && pass "site es trains on the GPU" \
  || fail "no 'device: site es on cuda' line: $(grep '^device:' <<<"$out")"
last=$(tail -1 "$WORK/gpu.jsonl" 2>/dev/null)
grep -qE '"round":2,.*"site_val_bpb":\{"es":[0-9.]+,"de":[0-9.]+\}' <<<"$last" \
  && pass "round 2 reports both sites' validation bits per byte" || fail "GPU metrics line: $last"
gpu=$(final_bpb "$WORK/gpu.jsonl") cpu=$(final_bpb "$WORK/cpu.jsonl")
tps=$(sed -nE 's/.*"tokens_per_second":([0-9.e+]+).*/\1/p' <<<"$last")
awk -v g="$gpu" -v c="$cpu" 'BEGIN { d = g - c; exit !(g > 0 && g < 8 && d < 0.05 && d > -0.05) }' \
  && pass "val_bpb on the GPU $gpu, on the CPU $cpu (GPU $tps tokens/s)" \
  || fail "val_bpb on the GPU '$gpu', on the CPU '$cpu': not finite, or more than 0.05 apart"

# Stopped after round 1 and resumed on the GPU: round 2 bit-identical to the uninterrupted run.
ck() { echo "--run.device=cuda --site.es.checkpoint_dir=$WORK/$1/es --site.de.checkpoint_dir=$WORK/$1/de --checkpoint.every=1 --run.metrics_file=$WORK/$1.jsonl"; }
run2 $(ck ref) >/dev/null 2>&1 || fail "GPU reference run with checkpoints"
run2 $(ck cut) --federation.rounds=1 >/dev/null 2>&1 || fail "GPU run of round 1"
out=$(run2 $(ck cut) 2>&1) || { echo "$out" | tail; fail "resumed GPU run"; }
grep -q "resuming job 'e2e-gpt-device' after round 1" <<<"$out" || fail "the GPU run did not resume after round 1"
same=1
for site in es de; do
  diff <(state_of "$WORK/ref/$site/round-000002.h5") <(state_of "$WORK/cut/$site/round-000002.h5") >/dev/null || same=0
done
[[ $same == 1 && $(state_of "$WORK/ref/es/round-000002.h5" | grep -c 'exp_avg') -ge 2 ]] \
  && pass "stopped and resumed on the GPU: round 2 of both sites is bit-identical" || fail "resumed GPU state differs"
finish
