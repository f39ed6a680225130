#!/usr/bin/env bash
# Devices and the collective watchdog through the CLI: run.device and site.collectives resolve as
# documented for this build and this machine (CUDA or not, GPU or not), and a rank that stalls
# inside a site makes its peer stop the job with a clear error instead of hanging.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"
run4() { "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --federation.rounds=1 "$@"; }

version=$("$FEDTRAIN_BIN" version)
echo "$version"
cuda=off gpus=0
grep -q "(cuda on" <<<"$version" && cuda=on
[[ $cuda == on ]] && gpus=$(sed -nE 's/^gpus: ([0-9]+) visible.*/\1/p' <<<"$version")
gpus=${gpus:-0}
echo "build: cuda $cuda, GPUs visible: $gpus"

# run.device = auto trains everywhere: on the GPU where there is one, else on the CPU.
if [[ $gpus -gt 0 ]]; then expect="device: site es on cuda:0"; else expect="device: site es on cpu"; fi
expect_exit 0 "$expect" "run.device = auto" -- run4
expect_exit 0 "device: site es on cpu" "run.device = cpu" -- run4 --run.device=cpu
expect_exit 2 "site.collectives = nccl needs GPUs, but run.device = cpu" "nccl on CPUs is a config error" -- \
  run4 --run.device=cpu --site.collectives=nccl

# run.device = cuda where it cannot work: a clear error on every rank, nothing trained.
if [[ $cuda == off ]]; then
  expect_exit 2 "run.device = cuda, but this fedtrain was built without CUDA" "cuda in a CPU-only build" -- \
    run4 --run.device=cuda
  expect_exit 2 "site.collectives = nccl, but this fedtrain was built without CUDA" "nccl in a CPU-only build" -- \
    run4 --site.collectives=nccl
elif [[ $gpus -eq 0 ]]; then
  expect_exit 1 "run.device = cuda, but this rank sees no CUDA device on host .*cudaGetDeviceCount" \
    "cuda without a GPU" -- run4 --run.device=cuda
  expect_exit 1 "site.collectives = nccl, but site es trains on the CPU" "nccl without a GPU" -- \
    run4 --site.collectives=nccl
else
  # Two ranks per site on this node's GPUs: NCCL only where every rank has its own.
  if [[ $gpus -ge 2 ]]; then
    expect_exit 0 "device: site es on cuda:0 .*all-reduce nccl" "run.device = cuda, NCCL" -- run4 --run.device=cuda
  else
    expect_exit 0 "device: site es on cuda:0 .*all-reduce mpi through host memory" "one GPU shared: MPI" -- \
      run4 --run.device=cuda
    expect_exit 1 "site.collectives = nccl, but ranks of site es share GPU" "one GPU shared: NCCL refused" -- \
      run4 --run.device=cuda --site.collectives=nccl
  fi
fi

# The watchdog: rank 1 of site de stalls before the all-reduce of its step 25 (round 2), so
# rank 0 of de waits; after site.collective_timeout_s it stops the job (exit 1), naming the call
# and the site, instead of hanging until the batch system's limit.
start=$(date +%s)
expect_exit 1 "gradient all-reduce on site de \(rank 0 of 2.*did not return within site.collective_timeout_s = 2 s" \
  "watchdog on a stalled rank" -- \
  "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --site.collective_timeout_s=2 \
  --inject hang:site=de,rank=1,step=25
elapsed=$(( $(date +%s) - start ))
(( elapsed < 60 )) && pass "the stalled job ended after ${elapsed} s" || fail "the stalled job took ${elapsed} s to end"
finish
