#!/usr/bin/env bash
# Installs the Debian 12 packages fedtrain needs to build, test and run its demo.
# Idempotent: returns at once when everything is present. Uses sudo when not root.
#
#   launch/install-deps.sh            build, test and demo dependencies
#   launch/install-deps.sh PKG ...    those plus extra packages (e.g. slurm-wlm for the Slurm test)
#   launch/install-deps.sh --fetch-help DIR [LANG ...]
#                                     LibreOffice help packs for 'fedtrain data text --source DIR',
#                                     fetched without installing them (below)
set -euo pipefail

# --fetch-help DIR [LANG ...]: libreoffice-help-LANG for each LANG (default es de fr it) and
# libreoffice-help-en-us (the English reference of the text filter), each fetched with
# 'apt-get download' and unpacked into DIR/libreoffice-help-LANG/ with 'dpkg-deb -x', its control
# data (Package, Version) into DIR/libreoffice-help-LANG/DEBIAN/ with 'dpkg-deb -e'. Nothing is
# installed: installing the four packs would pull libreoffice-common, ure and 20 more packages
# (about 55 MB) into the system, where this leaves 3.2 MB of download and ~30 MB of pages per
# language in DIR and changes nothing else. A pack already in DIR is kept (delete its folder to
# fetch it again); each is unpacked under a temporary name and renamed when whole.
fetch_help() {
  local dir=${1:?usage: launch/install-deps.sh --fetch-help DIR [LANG ...]}
  shift
  local langs=("$@")
  [[ ${#langs[@]} -gt 0 ]] || langs=(es de fr it)
  langs+=(en-us)
  mkdir -p "$dir"
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/fedtrain-help-XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  # apt-get download drops root for the download and warns unless its user may write here.
  [[ $(id -u) -ne 0 ]] || ! id _apt >/dev/null 2>&1 || chown _apt "$tmp"
  local lang pkg deb
  for lang in "${langs[@]}"; do
    pkg=libreoffice-help-$lang
    [[ -f $dir/$pkg/DEBIAN/control ]] && continue
    if ! (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null); then
      # No package lists yet (a fresh container): update them once, as root.
      if [[ $(id -u) -eq 0 && -z ${updated:-} ]]; then
        apt-get update -qq && updated=1
      fi
      (cd "$tmp" && apt-get download -qq "$pkg") \
        || { echo "install-deps: cannot download $pkg (is '$lang' a LibreOffice help language? apt-cache search libreoffice-help)" >&2; return 1; }
    fi
    deb=$(ls "$tmp"/"$pkg"_*.deb)
    rm -rf "$dir/.$pkg.part"
    dpkg-deb -x "$deb" "$dir/.$pkg.part"
    dpkg-deb -e "$deb" "$dir/.$pkg.part/DEBIAN"
    mv "$dir/.$pkg.part" "$dir/$pkg"
    rm -f "$deb"
    echo "install-deps: $pkg $(sed -n 's/^Version: //p' "$dir/$pkg/DEBIAN/control") in $dir/$pkg" >&2
  done
}
if [[ ${1:-} == --fetch-help ]]; then
  shift
  fetch_help "$@"
  exit
fi

packages=(
  build-essential cmake pkg-config          # toolchain
  libopenmpi-dev openmpi-bin                # MPI (mpirun, mpiexec)
  libhdf5-dev hdf5-tools                    # data shards and checkpoints; h5dump/h5ls
  libboost-program-options-dev              # config and command line
  libboost-dev                              # Asio (header-only): the TCP leader transport
  libssl-dev                                # OpenSSL 3 libcrypto: hashes, keys, AEAD
  libopenblas-dev                           # sgemm for the CPU kernels
  zlib1g-dev                                # gzip IDX files
  libxml2-dev                               # HTML parser: the help pages of 'fedtrain data text'
  prometheus-cpp-dev                        # the Prometheus endpoint of site leaders
  libgtest-dev                              # tests
  procps                                    # pgrep: the checkpoint tests signal and kill single ranks
  python3-matplotlib                        # bench/wan/plots.py (e2e_wan_model): the WAN plots in docs/benchmarks.md
  python3-scipy                             # bench/wan/model.py (e2e_wan_model): bounded least squares of the cost model
  python3-h5py python3-numpy                # e2e_gpt: docs/models.md reimplemented in numpy reads a checkpoint
  iperf3 iputils-ping jq                    # bench/wan/sites.sh probe (e2e_wan_sites): link rate, RTT, link.json
  iptables libnetfilter-queue-dev           # bench/wan/sites.sh --delay: NFQUEUE rule, fedtrain_nfq_delay
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
