#!/usr/bin/env bash
# Training round time across emulated WAN sites (bench/wan/sites.sh): weak and strong scaling of
# the Fashion-MNIST demo's model (configs/quickstart.ini: MLP 784-256-128-10, secure aggregation),
# one job per site, each site's own `mpirun -n 1` in its own namespace, its leader meeting the
# others over TCP. One JSON row per (mode, link rate, sites) appended to OUT:
#   {"bench":"train","mode":"weak","sites":4,"set_rate_bps":1e9,"measured_bps":..,"rounds":..,
#    "round_s":..,"compute_s":..,"exchange_s":..,"samples_per_site":..,"local_steps":..}
# (medians over the rounds after the first of the leaders' metrics: seconds, local_seconds,
# aggregation_seconds).
#   weak    every site holds SAMPLES samples and takes STEPS local steps a round, whatever N
#   strong  the N sites share N0 x SAMPLES samples (N0 = the largest N) and the STEPS x N0 / N
#           local steps a round: the same total work, split N ways
# The machine's cores are shared by all sites, so compute_s grows with N here where on real
# sites it would not: read exchange_s for the links, compute_s / (N / cores) for the sites.
#
#   bench/wan/train-scaling.sh [--sites "1 2 4 8"] [--rates "100mbit 1gbit"] [--modes "weak strong"]
#                              [--samples 3000] [--steps 40] [--rounds 4] [--out FILE.jsonl] [--fedtrain BIN]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sites_tool=$here/sites.sh
sites="1 2 4 8" rates="100mbit 1gbit" modes="weak strong" samples=3000 steps=40 rounds=4 out=wan-train.jsonl
fedtrain=${FEDTRAIN_BIN:-$root/build/launch/fedtrain}
source_dir=${FEDTRAIN_FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}
while [[ $# -gt 0 ]]; do
  case $1 in
    --sites) sites=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --fedtrain) fedtrain=$2; shift 2 ;;
    *) echo "train-scaling: unknown option '$1' (see the top of $0)" >&2; exit 2 ;;
  esac
done
[[ -x $fedtrain ]] || { echo "train-scaling: no fedtrain at '$fedtrain' (build it, or --fedtrain BIN)" >&2; exit 2; }
fedtrain=$(cd "$(dirname "$fedtrain")" && pwd)/$(basename "$fedtrain")
n0=$(tr ' ' '\n' <<<"$sites" | sort -n | tail -1)

work=$(mktemp -d /tmp/fedtrain-wan-train.XXXXXX)
dir=''
cleanup() { [[ -z $dir ]] || { "$sites_tool" down "$dir" >/dev/null 2>&1; rm -rf "$dir"; } || true; }
trap 'cleanup; [[ -n ${KEEP_WORK:-} ]] || rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# config N SAMPLES_PER_SITE STEPS DATA: the federation of sites s1..sN at the namespaces' addresses.
config() {
  local n=$1 steps=$3 data=$4 i addr
  printf '[run]\njob_id = scaling\nseed = 1\n[data]\ntest = %s/test.h5\nbatch_size = 64\n' "$data"
  printf '[model]\nhidden = 256,128\n[inner]\noptimizer = sgd\nlr = 0.05\nmomentum = 0.9\n'
  printf '[federation]\nrounds = %d\nlocal_steps = %d\n' "$rounds" "$steps"
  # One site alone has nothing to aggregate securely (and fedtrain refuses a secure quorum of one).
  if ((n == 1)); then printf 'secure = false\nmin_sites = 1\n'; else printf 'min_sites = 2\nallow_two_participants = true\n'; fi
  for ((i = 1; i <= n; i++)); do
    addr=$(awk -v h="n$i" '$1 == h { print $2 }' "$dir/hosts")
    printf '[site.s%d]\nranks = 1\ndata = %s/train-s%d.h5\npublic_key_file = %s/keys/s%d.pub\nsecret_key = %s/keys/s%d.key\n' \
      "$i" "$data" "$i" "$work" "$i" "$work" "$i"
    printf 'egress_log = %s/egress-s%d.jsonl\nleader = %s:29500\nlisten = %s:29500\n' "$work" "$i" "$addr" "$addr"
  done
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }

for i in $(seq 1 "$n0"); do "$fedtrain" keygen --site "s$i" --out "$work/keys" >/dev/null; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for rate in $rates; do
  for mode in $modes; do
    for n in $sites; do
      per_site=$samples st=$steps
      if [[ $mode == strong ]]; then per_site=$((samples * n0 / n)) st=$((steps * n0 / n)); fi
      data=$work/data-$mode-$n
      names=$(seq -s, -f 's%g' 1 "$n")
      "$fedtrain" data fashion-mnist --out "$data" --sites "$names" --train-limit $((per_site * n)) --test-limit 2000 \
        --source "$source_dir" >/dev/null
      dir=$(mktemp -d /tmp/fedtrain-wan-sites.XXXXXX)
      "$sites_tool" up "$dir" "$n" --rate "$rate" >/dev/null
      set_bps=$(awk '$1 == "rate_bps" { print $2 }' "$dir/sites.conf")
      measured=$set_bps  # one site: no link to measure
      if [[ $n -ge 2 ]]; then "$sites_tool" probe "$dir" --seconds 2 >/dev/null; measured=$(jq -r .measured_bps "$dir/link.json"); fi
      config "$n" "$per_site" "$st" "$data" >"$work/run.ini"
      rm -f "$work"/egress-*.jsonl "$work"/metrics-*.jsonl
      pids=()
      for ((i = 1; i <= n; i++)); do
        "$sites_tool" exec "$dir" "n$i" "OPENBLAS_NUM_THREADS=1 mpirun -n 1 '$fedtrain' run --config '$work/run.ini' \
          --site s$i --run.metrics_file='$work/metrics-s$i.jsonl'" \
          >"$work/s$i.out" 2>&1 &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || { echo "train-scaling: a site's job failed:" >&2; for f in "$work"/s*.out; do tail -n 5 "$f"; done >&2; exit 1; }; done
      m=$work/metrics-s1.jsonl
      round=$(jq -r 'select(.round > 1) | .seconds' "$m" | median)
      compute=$(jq -r 'select(.round > 1) | .local_seconds' "$m" | median)
      exchange=$(jq -r 'select(.round > 1) | .aggregation_seconds' "$m" | median)
      jq -nc --arg mode "$mode" --argjson n "$n" --argjson set "$set_bps" \
        --argjson measured "$measured" --argjson rounds "$rounds" --argjson round "$round" --argjson compute "$compute" \
        --argjson exchange "$exchange" --argjson per_site "$per_site" --argjson steps "$st" \
        '{bench: "train", mode: $mode, sites: $n, set_rate_bps: $set, measured_bps: $measured, rounds: $rounds,
          round_s: $round, compute_s: $compute, exchange_s: $exchange, samples_per_site: $per_site, local_steps: $steps}' \
        | tee -a "$out"
      cleanup
      rm -rf "$data"
      dir=''
    done
  done
done
