#!/usr/bin/env bash
# Installs the Debian 12 packages fedtrain needs to build, test and run its demo.
# Idempotent: returns at once when everything is present. Uses sudo when not root.
#
#   launch/install-deps.sh            build, test and demo dependencies
#   launch/install-deps.sh PKG ...    those plus extra packages (e.g. slurm-wlm for the Slurm test)
set -euo pipefail

packages=(
  build-essential cmake pkg-config          # toolchain
  libopenmpi-dev openmpi-bin                # MPI (mpirun, mpiexec)
  libhdf5-dev hdf5-tools                    # data shards and checkpoints; h5dump/h5ls
  libboost-program-options-dev              # config and command line
  libssl-dev                                # OpenSSL 3 libcrypto: hashes, keys, AEAD
  libopenblas-dev                           # sgemm for the CPU kernels
  zlib1g-dev                                # gzip IDX files
  prometheus-cpp-dev                        # the Prometheus endpoint of site leaders
  libgtest-dev                              # tests
  procps                                    # pgrep: the checkpoint tests signal and kill single ranks
  dataset-fashion-mnist                     # the demo dataset (IDX files)
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
