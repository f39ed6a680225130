#!/usr/bin/env bash
# The quick start: installs what fedtrain needs, builds it, prepares Fashion-MNIST
# and the key pairs of each of three sites (X25519 for secure aggregation, Ed25519 to sign the
# ledger of rounds), and trains them together under mpirun
# (3 sites x 2 ranks, secure aggregation among the three site leaders: with two,
# each would learn the other's update).
#
#   launch/demo.sh                          IID split (configs/quickstart.ini)
#   launch/demo.sh configs/non-iid.ini      label-skewed split, Dirichlet alpha 0.5
#   launch/demo.sh CONFIG --federation.rounds=5   any key can be overridden
#   launch/demo.sh configs/multilingual.ini   a GPT on es, de, fr and it text, one language per site
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/quickstart.ini}
shift || true

launch/install-deps.sh
launch/build.sh >/dev/null
bin=${FEDTRAIN_BUILD_DIR:-build}/launch/fedtrain

if grep -qE '^kind *= *gpt' "$config"; then
  # The language-model demo: each site's text from Debian's LibreOffice help in its language.
  langs=(es de fr it)
  if [[ ! -f data/text/val-it.h5 ]]; then
    launch/install-deps.sh --fetch-help data/help "${langs[@]}"
    "$bin" data text --source data/help --out data/text --sites es,de,fr,it --centralized all
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
