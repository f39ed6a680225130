#!/usr/bin/env bash
# The quick start: installs what fedtrain needs, builds it, installs it (cmake --install: fedtrain and
# fedtrain-mpirun in /usr/local/bin, on PATH), prepares Fashion-MNIST and the key pairs of each of three
# sites (X25519 for secure aggregation, Ed25519 to sign the ledger of rounds), and trains them together
# under mpirun (3 sites x 2 ranks, secure aggregation among the three site leaders: with two, each
# would learn the other's update).
#
#   launch/demo.sh                          IID split (configs/quickstart.ini)
#   launch/demo.sh configs/non-iid.ini      label-skewed split, Dirichlet alpha 0.5
#   launch/demo.sh CONFIG --federation.rounds=5   any key can be overridden
#   launch/demo.sh configs/multilingual.ini   a GPT on es, de, fr and it text, one language per site
#
# Environment:
#   FEDTRAIN_PREFIX     where to install (default /usr/local; sudo when not root and not writable)
#   FEDTRAIN_BUILD_DIR  the build folder (default build/)
#   FEDTRAIN_BIN        an existing fedtrain binary (an installed package, a build of your own):
#                       then nothing is installed or built, and the demo runs with it
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/quickstart.ini}
shift || true
build=${FEDTRAIN_BUILD_DIR:-build}
prefix=${FEDTRAIN_PREFIX:-/usr/local}

# build_with_progress: launch/build.sh, its output reduced to a progress count (the whole log in
# $build/demo-build.log), after an estimate of the time. A first CPU-only build took
# FIRST_BUILD_CORE_SECONDS of CPU time (user + sys, /usr/bin/time -v launch/build.sh
# -DFEDTRAIN_WITH_CUDA=OFF) on the development machine; CUDA adds nvcc's share.
FIRST_BUILD_CORE_SECONDS=195
build_with_progress() {
  local cores estimate log=$build/demo-build.log
  cores=$(nproc)
  estimate=$(( (FIRST_BUILD_CORE_SECONDS + 60 * cores - 1) / (60 * cores) ))
  mkdir -p "$build"
  echo "demo: building fedtrain in $build/ (a first build takes about $estimate minutes on $cores idle cores," \
       "longer with CUDA; a rebuild only what changed; log: $log)..."
  FEDTRAIN_BUILD_DIR=$build launch/build.sh >"$log" 2>&1 &
  local pid=$! shown=-1 pct files
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    pct=$(grep -oE '^\[ *[0-9]+%\]' "$log" | tail -1 | tr -dc 0-9 || true)  # nothing yet while cmake configures
    files=$(grep -cE '^\[ *[0-9]+%\] Building' "$log" || true)
    [[ -n $pct ]] || continue
    if [[ -t 1 ]]; then
      printf '\rdemo: building: %3d%% (%d files compiled)' "$pct" "$files"
    elif (( pct / 10 > shown )); then
      shown=$((pct / 10))
      echo "demo: building: $pct% ($files files compiled)"
    fi
  done
  local rc=0
  wait "$pid" || rc=$?
  [[ -t 1 ]] && echo
  if [[ $rc -ne 0 ]]; then
    tail -30 "$log" >&2
    echo "demo: the build failed (exit $rc); the whole log is $log" >&2
    exit "$rc"
  fi
  echo "demo: built $build/launch/fedtrain"
}

# install_fedtrain: cmake --install into $prefix (bin/ on PATH for /usr/local), as root or with sudo.
install_fedtrain() {
  local sudo=()
  if [[ ! -w $prefix && $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" cmake --install "$build" --prefix "$prefix" >"$build/demo-install.log" \
    || { cat "$build/demo-install.log" >&2; echo "demo: cmake --install failed" >&2; exit 1; }
  echo "demo: installed fedtrain and fedtrain-mpirun in $prefix/bin (files listed in $build/install_manifest.txt)"
  case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "demo: $prefix/bin is not on your PATH: export PATH=$prefix/bin:\$PATH" ;;
  esac
}

if [[ -n ${FEDTRAIN_BIN:-} ]]; then
  bin=$FEDTRAIN_BIN
  echo "demo: using FEDTRAIN_BIN=$bin (nothing installed or built)"
else
  launch/install-deps.sh
  build_with_progress
  install_fedtrain
  bin=$build/launch/fedtrain
fi

if grep -qE '^kind *= *gpt' "$config"; then
  # The language-model demo: each site's text from Debian's LibreOffice help in its language.
  langs=(es de fr it)
  if [[ ! -f data/text/val-it.h5 ]]; then
    launch/install-deps.sh --fetch-help data/help "${langs[@]}"
    "$bin" data text --source data/help --out data/text --sites es,de,fr,it --val-fraction 0.01 --centralized all
  fi
  for site in "${langs[@]}"; do
    [[ -f data/keys/$site.sign.key ]] || "$bin" keygen --site "$site" --out data/keys >/dev/null
  done
  FEDTRAIN_BIN=$bin exec launch/fedtrain-mpirun "$config" "$@"
fi

for split in iid dirichlet; do
  out=data/fashion-mnist-$split
  if [[ ! -f $out/train-fr.h5 ]]; then
    "$bin" data fashion-mnist --out "$out" --sites es,de,fr --partition "$split" --alpha 0.5 --seed 1
  fi
done
for site in es de fr; do
  [[ -f data/keys/$site.sign.key ]] || "$bin" keygen --site "$site" --out data/keys >/dev/null
done
FEDTRAIN_BIN=$bin exec launch/fedtrain-mpirun "$config" "$@"
