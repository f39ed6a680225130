#!/usr/bin/env bash
# One job per organisation, each in its own network namespace (issue 10): three sites (es 2 ranks,
# de 1, fr 1) as three stand-in organisations (bench/wan/sites.sh: a namespace each, its own address
# on a veth link, 1 Gbit/s), each running its own mpirun inside its namespace, started one after
# the other in no particular order. Nothing is shared but the filesystem. The leaders meet over TCP
# at the namespaces' addresses. They train a 3-site Fashion-MNIST split to at least 85 % test
# accuracy, end with the same model, and each site's egress log accounts for what left its
# namespace: the bytes its eth0 sent are the logged messages plus framing, TCP/IP headers and
# the acknowledgements of what it received (at most 6 % + 256 KiB more). es's Prometheus endpoint
# shows per-peer series of its TCP connections, between the logged bytes and its eth0's.
# Skipped (exit 77) without root or network namespaces.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || skip "separate organisations need root (network namespaces)"
need_packages iproute2 jq curl
sites_tool=$FEDTRAIN_SOURCE_DIR/bench/wan/sites.sh
dir=$WORK/sites
at_exit '"$sites_tool" down "$dir" >/dev/null 2>&1'
"$sites_tool" up "$dir" 3 --rate 1gbit >"$WORK/up.out" 2>&1 || skip "cannot make the namespaces: $(tail -3 "$WORK/up.out")"
declare -A host_of=([es]=n1 [de]=n2 [fr]=n3) addr_of ns_of
while read -r name addr ns; do
  for site in es de fr; do [[ ${host_of[$site]} == "$name" ]] && addr_of[$site]=$addr ns_of[$site]=$ns; done
done <"$dir/hosts"
pass "organisations: es at ${addr_of[es]}, de at ${addr_of[de]}, fr at ${addr_of[fr]}"

data=$WORK/data
"$FEDTRAIN_BIN" data fashion-mnist --out "$data" --sites es,de,fr --train-limit 9000 --test-limit 2000 \
  --source "${FEDTRAIN_FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}" >/dev/null || { echo "cannot prepare data" >&2; exit 1; }
for site in es de fr; do "$FEDTRAIN_BIN" keygen --site "$site" --out "$WORK/keys" >/dev/null || exit 1; done
cfg=$WORK/fed.ini
{
  printf '[run]\njob_id = orgs\n[data]\ntest = %s/test.h5\nbatch_size = 64\n[model]\nhidden = 128\n' "$data"
  printf '[inner]\noptimizer = sgd\nlr = 0.05\nmomentum = 0.9\n'
  printf '[federation]\nrounds = 12\nlocal_steps = 60\nconnect_timeout_s = 120\npeer_timeout_s = 120\n'
  for site in es de fr; do
    ranks=1; [[ $site == es ]] && ranks=2
    printf '[site.%s]\nranks = %d\ndata = %s/train-%s.h5\npublic_key_file = %s/keys/%s.pub\nsecret_key = %s/keys/%s.key\n' \
      "$site" "$ranks" "$data" "$site" "$WORK" "$site" "$WORK" "$site"
    printf 'egress_log = %s/egress-%s.jsonl\nleader = %s:29500\nlisten = %s:29500\n' "$WORK" "$site" "${addr_of[$site]}" "${addr_of[$site]}"
  done
} >"$cfg"

tx_bytes() { ip netns exec "${ns_of[$1]}" cat /sys/class/net/eth0/statistics/tx_bytes; }
declare -A tx0 pid_of
for site in es de fr; do tx0[$site]=$(tx_bytes "$site"); done
for site in fr es de; do
  n=1; [[ $site == es ]] && n=2
  mon=''; [[ $site == es ]] && mon="--monitoring.port=9400 --monitoring.address=${addr_of[es]} --monitoring.linger_s=15"
  "$sites_tool" exec "$dir" "${host_of[$site]}" \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 '$MPIEXEC' -n $n --oversubscribe \
     '$FEDTRAIN_BIN' run --config '$cfg' --site $site $mon" >"$WORK/$site.out" 2>&1 &
  pid_of[$site]=$!
  at_exit "stop_pid $! 'job of site $site'"
  sleep 1
done
metrics=''
for site in fr de es; do
  if [[ $site == es ]]; then  # it lingers 15 s after its last round: scrape its final values meanwhile
    for _ in $(seq 60); do grep -q "job orgs done" "$WORK/es.out" && break; sleep 1; done
    metrics=$(ip netns exec "${ns_of[es]}" curl -sf "http://${addr_of[es]}:9400/metrics")
  fi
  wait "${pid_of[$site]}"
  rc=$?
  [[ $rc -eq 0 ]] && pass "site $site's job, in its own namespace, ended with exit 0" \
    || { fail "site $site's job: exit $rc"; tail -20 "$WORK/$site.out" >&2; }
done

peer_sent() { awk -v p="peer=\"$1\"" '/^fedtrain_peer_sent_bytes_total/ && index($0, p) { print $NF }' <<<"$metrics"; }
# (Whether a peer still counts as connected at the last round's end depends on who finished first.)
series=$(grep -cE '^fedtrain_peer_connected\{.*peer="(de|fr)"\} [01]$' <<<"$metrics")
[[ $series -eq 2 ]] && pass "es's endpoint has a series per peer (de, fr)" || fail "es's endpoint: $series peer series, not 2"
es_peers=$(( $(peer_sent de) + $(peer_sent fr) ))

acc=$(grep -oE 'job orgs done: 12 rounds.*test accuracy [0-9.]+%' "$WORK/es.out" | grep -oE '[0-9.]+%$' | tr -d %)
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 85) }' && pass "test accuracy $acc % (at least 85 %)" || fail "test accuracy '${acc}' %, below 85 %"
hashes=$(grep -ohE 'global model after round 12 has sha256 [0-9a-f]{64}' "$WORK"/{es,de,fr}.out | awk '{print $NF}' | sort -u)
[[ $(grep -c . <<<"$hashes") -eq 1 ]] && pass "every site ends with the model $hashes" || fail "the sites end with different models: $hashes"

for site in es de fr; do
  expect_exit 0 "^ok: " "egress verify: $site's log" -- "$FEDTRAIN_BIN" egress verify "$WORK/egress-$site.jsonl"
  logged=$(jq -s 'map(.bytes) | add' "$WORK/egress-$site.jsonl")
  sent=$(( $(tx_bytes "$site") - ${tx0[$site]} ))
  awk -v l="$logged" -v s="$sent" 'BEGIN { exit !(s >= l && s <= 1.06 * l + 262144) }' \
    && pass "$site: its eth0 sent $sent bytes, its egress log accounts for $logged of them" \
    || fail "$site: its eth0 sent $sent bytes, but its egress log lists $logged"
  if [[ $site == es ]]; then
    awk -v l="$logged" -v p="$es_peers" -v s="$sent" 'BEGIN { exit !(p >= l && p <= s) }' \
      && pass "es: fedtrain_peer_sent_bytes_total sums to $es_peers, between its log's $logged and its eth0's $sent" \
      || fail "es: the per-peer series sum to $es_peers bytes sent; its log says $logged, its eth0 $sent"
  fi
done
finish
