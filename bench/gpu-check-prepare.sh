#!/usr/bin/env bash
# Prepares .gpucheck/ for bench/gpu-check.sh on a GPU machine that has no network and may lack
# MPI, HDF5, Boost and OpenBLAS, then proves here, on this machine's CPU, that the carried
# Open MPI runs fedtrain from there.
#
#   bench/gpu-check-prepare.sh          (about 2 minutes: a CUDA build, ~25 MB of packages)
#
# .gpucheck/ (ignored by git; name it in the device tool's `carry`) holds:
#   bin/            fedtrain and the GPU test binaries of a CUDA build (FEDTRAIN_BUILD_DIR, default build/)
#   debs/           the Debian packages of every shared library those binaries and Open MPI (mpirun,
#                   orted, every MCA plugin) load, except glibc, libstdc++, libgcc and CUDA's own
#   fashion-mnist/  the IDX files of Debian's dataset-fashion-mnist
#   MANIFEST        what was packed, from which commit
# The check here unpacks debs/ into .gpucheck-root/ with the same functions gpu-check.sh uses
# (bench/carried-libs.sh) and runs a 2-site x 1-rank job with the carried mpirun, inside a mount
# namespace that hides the system's Open MPI and PMIx, so only the carried ones can have worked.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/carried-libs.sh
build=${FEDTRAIN_BUILD_DIR:-build}
out=.gpucheck
root=.gpucheck-root
limit_mib=60   # the device tool carries at most 64 MiB with the work tree

say() { echo "gpu-check-prepare: $*"; }
die() { echo "gpu-check-prepare: error: $*" >&2; exit 1; }

# 1. A CUDA build with its tests.
launch/install-deps.sh
launch/build.sh -DFEDTRAIN_WITH_CUDA=ON -DFEDTRAIN_BUILD_TESTS=ON >/dev/null
grep -q "define FEDTRAIN_WITH_CUDA 1" "$build/generated/fedtrain/features.h" || die "$build is not a CUDA build"

rm -rf "$out" "$root"
mkdir -p "$out/bin" "$out/debs" "$out/fashion-mnist"
for b in launch/fedtrain tests/cuda_kernels tests/cuda_gpt_kernels tests/cuda_trainer tests/cuda_gpt_model; do
  [[ -x $build/$b ]] || die "$build/$b is missing"
  cp "$build/$b" "$out/bin/"
done
strip --strip-unneeded "$out"/bin/*

# 2. The packages of every shared library that is loaded, found with ldd and dpkg -S.
mpi_objects=(/usr/bin/orterun /usr/bin/orted /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so
             /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix/*.so)
missing=$(ldd "$out"/bin/* "${mpi_objects[@]}" 2>/dev/null | grep "not found" | sort -u || true)
[[ -z $missing ]] || die "libraries not found here:"$'\n'"$missing"
package_of() {  # the package that owns a library file, trying the merged-/usr spellings
  local f p
  for f in "$1" "/usr$1" "${1#/usr}"; do
    p=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n $p ]] && { echo "$p"; return; }
  done
  return 1
}
packages=(openmpi-bin openmpi-common libopenmpi3 libpmix2)
while read -r lib; do
  real=$(readlink -f "$lib")
  case $real in /usr/local/cuda*|*/libcuda.so*) continue ;; esac   # the GPU machine's own CUDA
  p=$(package_of "$real") || die "no Debian package owns $real"
  case $p in libc6|libstdc++6|libgcc-s1) continue ;; esac            # the host's own C and C++ runtime
  packages+=("$p")
done < <(ldd "$out"/bin/* "${mpi_objects[@]}" 2>/dev/null | awk '/=> \// {print $3}' | sort -u)
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
say "${#packages[@]} packages: ${packages[*]}"
(cd "$out/debs" && apt-get download "${packages[@]}" >/dev/null 2>&1) ||
  { apt-get update -qq && (cd "$out/debs" && apt-get download "${packages[@]}" >/dev/null); } ||
  die "apt-get download failed"

# 3. The data and the manifest.
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$out/fashion-mnist/"
{
  echo "commit $(git rev-parse HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  "$build/launch/fedtrain" version | head -1
  echo "packages ${packages[*]}"
} >"$out/MANIFEST"
carried_bytes=$(du -sb "$out" | cut -f1)
tree_bytes=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
total_mib=$(( (carried_bytes + tree_bytes) / 1048576 ))
say "$out holds $((carried_bytes / 1048576)) MiB; with the work tree $total_mib MiB (limit $limit_mib)"
(( total_mib <= limit_mib )) || die "too large for the device tool's carry"

# 4. The carried Open MPI works here, from .gpucheck-root only.
carried_unpack "$out/debs" "$root" >/dev/null
carried_env "$root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
libmpi=$(env "${CARRIED_ENV[@]}" ldd "$out/bin/fedtrain" | awk '/libmpi.so/ {print $3}')
[[ $libmpi == "$(cd "$root" && pwd)"/* ]] || die "fedtrain does not load libmpi from $root but from '$libmpi'"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env "${CARRIED_ENV[@]}" "$out/bin/fedtrain" data fashion-mnist --source "$out/fashion-mnist" --out "$work/data" \
  --sites es,de,fr --train-limit 4000 --test-limit 1000 >/dev/null
job=("$MPIRUN" -n 3 "$out/bin/fedtrain" run --config configs/quickstart.ini --allow-security-overrides --data.test="$work/data/test.h5"
     --federation.rounds=2 --federation.local_steps=20 --run.metrics_file="$work/metrics.jsonl")
for site in es de fr; do
  env "${CARRIED_ENV[@]}" "$out/bin/fedtrain" keygen --site $site --out "$work/keys" >/dev/null
  job+=(--site.$site.ranks=1 --site.$site.data="$work/data/train-$site.h5" --site.$site.public_key_file="$work/keys/$site.pub"
        --site.$site.secret_key="$work/keys/$site.key" --site.$site.egress_log="$work/egress-$site.jsonl"
        --site.$site.signing_key_file="$work/keys/$site.sign.pub" --site.$site.signing_secret_key="$work/keys/$site.sign.key"
        --site.$site.ledger="$work/ledger-$site.jsonl")
done
hidden=(/usr/lib/x86_64-linux-gnu/openmpi /usr/lib/x86_64-linux-gnu/pmix2 /usr/share/openmpi /etc/openmpi)
if unshare --mount true 2>/dev/null; then
  mkdir -p "$work/empty"
  mounts=""
  for d in "${hidden[@]}"; do [[ -d $d ]] && mounts+="mount --bind $work/empty $d && "; done
  log=$(unshare --mount bash -c "${mounts}exec \"\$@\"" job env "${CARRIED_ENV[@]}" "${job[@]}" 2>&1) ||
    die "the carried mpirun failed (system Open MPI hidden):"$'\n'"$log"
  how="with the system's Open MPI and PMIx hidden"
else
  log=$(env "${CARRIED_ENV[@]}" "${job[@]}" 2>&1) || die "the carried mpirun failed:"$'\n'"$log"
  how="(unshare unavailable: the system's Open MPI was not hidden)"
fi
grep -q "job quickstart done: 2 rounds, sites es=1 de=1" <<<"$log" || die "unexpected output:"$'\n'"$log"
say "ok: $MPIRUN ran a 2-site x 1-rank job here $how"
say "$(grep 'job quickstart done' <<<"$log")"
say "ready: run 'bash bench/gpu-check.sh \"\$OUT\"' on the GPU machine with .gpucheck carried"
