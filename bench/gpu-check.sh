#!/usr/bin/env bash
# The device check of GPU sites, for a machine with an NVIDIA GPU (one H100 is enough). At most
# GPU_CHECK_TIME_LIMIT_S seconds in all (default 420): each step's limit is cut to what is left, and a
# step that finds no time left is a FAIL row ("not run").
#
#   bash bench/gpu-check.sh [OUTDIR]      (from a checkout; OUTDIR defaults to $OUT, else /tmp/gpu-check)
#
# Steps, each under its own time limit; every failure is a FAIL row, and the script exits 1 if any:
#   1. binaries: those carried in .gpucheck/ (bench/gpu-check-prepare.sh, for a machine without
#      network: Open MPI and the other libraries unpacked from the carried Debian packages), else a
#      fresh CUDA build here with cmake and the system's MPI; `fedtrain version` must see the GPU
#   2. GPU tests: every CUDA kernel against its CPU twin (cuda_kernels, cuda_gpt_kernels), the GPU site trainer against
#      the CPU one (cuda_trainer, 2 ranks), the whole GPT on the GPU against the CPU model (cuda_gpt_model: loss,
#      gradient, evaluation, an AdamW step); a test that skips itself here counts as a failure
#   3. the CLI end to end on the GPU (tests/e2e/device.sh: auto picks the GPU, a shared GPU refuses
#      NCCL and falls back to MPI, the watchdog stops a stalled site); the GPT with run.device = cuda
#      (tests/e2e/gpt_device.sh, part gpu: 2 text sites x 1 rank, 2 rounds, val_bpb within 0.05 of the
#      CPU run, a bit-identical resume; the row gives the GPU run's tokens/s)
#   4. the MLP training step on the GPU next to the same model and step in PyTorch on the same GPU
#      (when python3 can import torch) and the GPU's FP32 SGEMM rate, batches 128 and 2048
#   5. Fashion-MNIST, 3 sites x 1 rank (three processes sharing the GPU, each site with its own NCCL
#      communicator), the quick-start schedule (secure aggregation among the three leaders) on the
#      GPU and, as the reference, on the CPU: the GPU run must reach the accuracy bar and stay within
#      2 points of the CPU run
# Writes OUTDIR/gpu-check.md (the table) and OUTDIR/gpu-check.log (everything the steps printed).
#
# GPU_CHECK_REHEARSE=1 runs on a machine without a GPU, to check the script itself: the GPU steps
# then fail, the others must pass. GPU_CHECK_BUILD=1 builds here even when .gpucheck/ is present.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=${1:-${OUT:-/tmp/gpu-check}}
mkdir -p "$out"
table=$out/gpu-check.md log=$out/gpu-check.log
: >"$log"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-XXXXXX")
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 GTEST_COLOR=no
ACC_BAR=0.82   # the CPU run of this schedule reaches about 0.84 (docs/gpu.md)
t_start=$(date +%s)
deadline=$((t_start + ${GPU_CHECK_TIME_LIMIT_S:-420}))

rows=() perf=() failures=0
# The lines of $last that say what went wrong (fedtrain's and gtest's error lines), else its tail.
why_failed() { { grep -E "error:|FAIL|Failure|stopped after" <<<"$last" || tail -3 <<<"$last"; } | head -4 | tr '\n' ' '; }
row() { rows+=("| $1 | $2 | ${3//|//} |"); [[ $2 == PASS ]] || failures=$((failures + 1)); echo "gpu-check: $2 $1 -- $3"; }
# run SECONDS LABEL CMD...: runs CMD under a time limit, appends its output to the log, keeps it in $last.
run() {
  local limit=$1 label=$2 left=$((deadline - $(date +%s)))
  shift 2
  if ((left < 10)); then
    last="(not run: the check's time limit GPU_CHECK_TIME_LIMIT_S is spent; stopped after 0 s)"
    echo "=== $label: not run, no time left" >>"$log"
    return 124
  fi
  ((limit > left)) && limit=$left
  echo "=== $label: $*" >>"$log"
  last=$(timeout -k 10 "$limit" "$@" 2>&1)
  local rc=$?
  printf '%s\n' "$last" >>"$log"
  echo "=== exit $rc" >>"$log"
  [[ $rc -eq 124 || $rc -eq 137 ]] && last+=$'\n'"(stopped after $limit s)"
  return $rc
}
finish() {
  {
    echo "# fedtrain GPU check"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), ${gpu_name:-no GPU}, commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), binaries: ${origin:-none}, $(( $(date +%s) - t_start )) s"
    echo
    echo "| check | result | detail |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
    if [[ ${#perf[@]} -gt 0 ]]; then
      echo
      echo "MLP $net, SGD momentum, FP32 (no TF32), data on the GPU; GFLOP/s counts the step's GEMM flops:"
      echo
      echo "| what | batch | samples/s | ms/step | GFLOP/s |"
      echo "|---|---:|---:|---:|---:|"
      printf '%s\n' "${perf[@]}"
    fi
    echo
    [[ $failures -eq 0 ]] && echo "all checks passed" || echo "$failures check(s) failed: see gpu-check.log"
  } >"$table"
  echo
  cat "$table"
  exit $((failures > 0))
}

# 0. The GPU.
if gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>>"$log" | head -1) && [[ -n $gpu_name ]]; then
  gpu_name+=" (driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>>"$log" | head -1))"
  row "GPU" PASS "$gpu_name"
else
  gpu_name=""
  row "GPU" FAIL "nvidia-smi sees no NVIDIA GPU"
  [[ ${GPU_CHECK_REHEARSE:-0} == 1 ]] || finish
fi

# 1. Binaries and MPI.
CARRIED_ENV=() MPIRUN=mpirun
fmnist=/usr/share/datasets/fashion-mnist
if [[ -x .gpucheck/bin/fedtrain && ${GPU_CHECK_BUILD:-0} != 1 ]]; then
  origin="carried, $(head -1 .gpucheck/MANIFEST 2>/dev/null)"
  bin=$repo/.gpucheck/bin
  fmnist=$repo/.gpucheck/fashion-mnist
  source bench/carried-libs.sh
  root=${GPUCHECK_ROOT:-$work/root}
  carried_unpack .gpucheck/debs "$root" >>"$log" 2>&1 || { row "unpack the carried packages" FAIL "see the log"; finish; }
  carried_env "$root" 2>>"$log" || { row "carried Open MPI" FAIL "no mpirun after unpacking"; finish; }
  # CUDA's own libraries come from this machine: its toolkit, else the pip wheels beside PyTorch.
  missing=$(env "${CARRIED_ENV[@]}" ldd "$bin"/* | awk '/not found/ {print $1}' | sort -u)
  if [[ -n $missing ]]; then
    dirs=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "nvidia", "*", "lib", "lib*.so*"))})))
PY
)
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
      [[ -d $d ]] && dirs+=":$d"
    done
    for i in "${!CARRIED_ENV[@]}"; do
      [[ ${CARRIED_ENV[$i]} == LD_LIBRARY_PATH=* ]] && CARRIED_ENV[$i]+=":${dirs#:}"
    done
    missing=$(env "${CARRIED_ENV[@]}" ldd "$bin"/* | awk '/not found/ {print $1}' | sort -u)
  fi
  [[ -z $missing ]] || { row "shared libraries" FAIL "not found: $(echo $missing)"; finish; }
else
  origin="built here"
  bin=$work/bin
  mkdir -p "$bin"
  if run 420 "build" bash -c "cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DFEDTRAIN_WITH_CUDA=ON \
        -DFEDTRAIN_BUILD_TESTS=ON >/dev/null && cmake --build build-gpu -j $(nproc)"; then
    cp build-gpu/launch/fedtrain build-gpu/tests/cuda_kernels build-gpu/tests/cuda_gpt_kernels build-gpu/tests/cuda_trainer \
      build-gpu/tests/cuda_gpt_model "$bin/"
  else
    row "CUDA build (cmake)" FAIL "$(tail -5 <<<"$last" | tr '\n' ' ')"
    finish
  fi
  command -v mpirun >/dev/null || { row "MPI" FAIL "no mpirun here: carry Open MPI with bench/gpu-check-prepare.sh"; finish; }
fi
fedtrain=(env "${CARRIED_ENV[@]}" "$bin/fedtrain")
if run 60 "version" "${fedtrain[@]}" version && grep -q "(cuda on" <<<"$last" && grep -qE "^gpus: [1-9]" <<<"$last"; then
  row "fedtrain sees the GPU" PASS "$(head -1 <<<"$last"); $(grep '^gpus:' <<<"$last")"
else
  row "fedtrain sees the GPU" FAIL "$(tr '\n' ' ' <<<"$last")"
fi

# 2. GPU tests. gtest prints "[  PASSED  ] N tests."; a "[  SKIPPED ]" or "[  FAILED  ]" line fails the row.
gtest_row() {
  local label=$1
  shift
  if run 240 "$label" "$@" && ! grep -qE "^\[  (SKIPPED|FAILED) +\]" <<<"$last" &&
     grep -qE "^\[  PASSED  \] [1-9][0-9]* tests?" <<<"$last"; then
    row "$label" PASS "$(grep -oE '\[  PASSED  \] [0-9]+ tests?' <<<"$last" | tail -1 | sed 's/\[  PASSED  \] //') passed"
  else
    row "$label" FAIL "$(grep -E 'SKIPPED|FAILED|Failure|error|stopped after' <<<"$last" | head -4 | tr '\n' ' ') (exit or output)"
  fi
}
gtest_row "GPU tests: cuda_kernels (each kernel vs its CPU twin)" env "${CARRIED_ENV[@]}" "$bin/cuda_kernels" --gtest_color=no
gtest_row "GPU tests: cuda_gpt_kernels (each GPT kernel vs its CPU twin)" \
  env "${CARRIED_ENV[@]}" "$bin/cuda_gpt_kernels" --gtest_color=no
gtest_row "GPU tests: cuda_trainer (GPU vs CPU trainer, 2 ranks)" \
  env "${CARRIED_ENV[@]}" "$MPIRUN" -n 2 "$bin/cuda_trainer" --gtest_color=no
gtest_row "GPU tests: cuda_gpt_model (the GPT on the GPU vs the CPU model)" \
  env "${CARRIED_ENV[@]}" "$bin/cuda_gpt_model" --gtest_color=no

# 3. The CLI end to end on this machine's GPU.
if run 240 "e2e device" env "${CARRIED_ENV[@]}" FEDTRAIN_BIN="$bin/fedtrain" FEDTRAIN_SOURCE_DIR="$repo" \
    MPIEXEC="$MPIRUN" FEDTRAIN_FMNIST_SOURCE="$fmnist" bash tests/e2e/device.sh; then
  row "CLI: run.device, site.collectives, watchdog (tests/e2e/device.sh)" PASS "$(grep -c '^ok:' <<<"$last") checks"
else
  row "CLI: run.device, site.collectives, watchdog (tests/e2e/device.sh)" FAIL "$(grep -E '^FAIL|stopped after' <<<"$last" | head -3 | tr '\n' ' ')"
fi
gpt_label="CLI: the GPT on the GPU, 2 sites x 1 rank (tests/e2e/gpt_device.sh, part gpu)"
if run 240 "e2e gpt on the GPU" env "${CARRIED_ENV[@]}" FEDTRAIN_BIN="$bin/fedtrain" FEDTRAIN_SOURCE_DIR="$repo" \
    MPIEXEC="$MPIRUN" FEDTRAIN_GPT_DEVICE_PART=gpu bash tests/e2e/gpt_device.sh; then
  row "$gpt_label" PASS "$(grep -c '^ok:' <<<"$last") checks; $(sed -nE 's/^ok: (val_bpb on the GPU.*)$/\1/p' <<<"$last")"
else
  row "$gpt_label" FAIL "$(grep -E '^FAIL|SKIPPED|stopped after' <<<"$last" | head -3 | tr '\n' ' ')"
fi

# 4. Training step: fedtrain on the GPU, PyTorch on the same GPU, the GPU's FP32 SGEMM rate.
# Bench rows end in three numbers (samples/s, ms/step, GFLOP/s); the peak row has "-" for samples/s.
net="784-1024-1024-10"
perf_rows() {  # BATCH TEXT: table rows from bench output lines
  sed -nE "s/^((training step|cuBLAS SGEMM only).*[^ ]) +([0-9.]+) +([0-9.]+) +([0-9.]+)\$/| \1 | $1 | \3 | \4 | \5 |/p" <<<"$2"
}
torch_ok=$(python3 -c "import torch; print(torch.cuda.is_available())" 2>/dev/null)
peak=""
for batch in 128 2048; do
  if run 120 "bench $batch" "${fedtrain[@]}" bench train --device cuda --batch "$batch" --steps 50 --repeats 7; then
    mapfile -t -O "${#perf[@]}" perf < <(perf_rows "$batch" "$last")
    peak=$(sed -nE 's/^(cuBLAS SGEMM [0-9x]+) +- +([0-9.]+) +([0-9.]+)$/| \1 (the GPU'"'"'s FP32 rate) | - | - | \2 | \3 |/p' <<<"$last")
    row "bench train --device cuda, batch $batch" PASS "$(sed -nE 's/^# training reaches (.*)$/\1/p' <<<"$last")"
  else
    row "bench train --device cuda, batch $batch" FAIL "$(why_failed)"
  fi
  if [[ $torch_ok == True ]]; then
    if run 180 "torch $batch" python3 bench/torch_mlp_bench.py --batch "$batch" --steps 50 --repeats 7; then
      mapfile -t -O "${#perf[@]}" perf < <(perf_rows "$batch" "$last")
    else
      row "PyTorch step, batch $batch" FAIL "$(why_failed)"
    fi
  fi
done
[[ $torch_ok == True ]] || row "PyTorch on this GPU" PASS "python3 cannot use torch with CUDA here: no PyTorch rows"
[[ -n $peak ]] && perf+=("$peak")

# 5. Fashion-MNIST, 3 sites x 1 rank: the quick-start schedule on the CPU (reference) and on the GPU.
federated() {  # LABEL [overrides]: sets acc and secs from the summary line
  local label=$1
  shift
  acc="" secs=""
  local sites=() site
  for site in es de fr; do
    sites+=(--site.$site.ranks=1 --site.$site.data="$work/data/train-$site.h5" --site.$site.public_key_file="$work/keys/$site.pub"
            --site.$site.secret_key="$work/keys/$site.key" --site.$site.egress_log="$work/$label-egress-$site.jsonl"
            --site.$site.signing_key_file="$work/keys/$site.sign.pub" --site.$site.signing_secret_key="$work/keys/$site.sign.key"
            --site.$site.ledger="$work/$label-ledger-$site.jsonl")
  done
  run 240 "$label" env "${CARRIED_ENV[@]}" "$MPIRUN" -n 3 "$bin/fedtrain" run --config configs/quickstart.ini \
    --allow-security-overrides --data.test="$work/data/test.h5" "${sites[@]}" --run.metrics_file="$work/$label.jsonl" "$@" || return 1
  acc=$(sed -nE 's/.*job quickstart done: .*test accuracy ([0-9.]+)%.*, ([0-9.]+) s$/\1/p' <<<"$last")
  secs=$(sed -nE 's/.*job quickstart done: .*test accuracy ([0-9.]+)%.*, ([0-9.]+) s$/\2/p' <<<"$last")
  [[ -n $acc ]]
}
if run 120 "data" "${fedtrain[@]}" data fashion-mnist --source "$fmnist" --out "$work/data" --sites es,de,fr &&
   run 30 "keys" "${fedtrain[@]}" keygen --site es --out "$work/keys" &&
   run 30 "keys" "${fedtrain[@]}" keygen --site de --out "$work/keys" &&
   run 30 "keys" "${fedtrain[@]}" keygen --site fr --out "$work/keys"; then
  cpu_acc=""
  if federated cpu --run.device=cpu; then
    cpu_acc=$acc
    row "Fashion-MNIST 3 sites x 1 rank on the CPU (reference)" PASS "test accuracy ${acc}% in ${secs} s"
  else
    row "Fashion-MNIST 3 sites x 1 rank on the CPU (reference)" FAIL "$(why_failed)"
  fi
  label="Fashion-MNIST 3 sites x 1 rank on the GPU, NCCL per site"
  if federated gpu --run.device=cuda --site.collectives=nccl; then
    device=$(sed -nE 's/^device: site es on (.*)$/\1/p' <<<"$last")
    verdict=PASS why="bar $ACC_BAR"
    awk -v a="$acc" -v b="$ACC_BAR" 'BEGIN { exit !(a / 100 >= b) }' || { verdict=FAIL; why="below the bar $ACC_BAR"; }
    if [[ -n $cpu_acc ]]; then
      if awk -v a="$acc" -v c="$cpu_acc" 'BEGIN { d = a - c; exit !(d <= 2 && d >= -2) }'; then
        why+=", within 2 points of the CPU run"
      else
        verdict=FAIL why+=", more than 2 points from the CPU run"
      fi
    fi
    [[ $device == cuda:*"all-reduce nccl"* ]] || { verdict=FAIL; why+=", device '$device' is not cuda with NCCL"; }
    row "$label" "$verdict" "test accuracy ${acc}% in ${secs} s ($why; $device)"
  else
    row "$label" FAIL "$(why_failed)"
  fi
else
  row "Fashion-MNIST shards and site keys" FAIL "$(why_failed)"
fi
finish
