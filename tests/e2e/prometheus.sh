#!/usr/bin/env bash
# A real Prometheus server (loopback, private storage, 1 s scrapes) scrapes the endpoints of both site
# leaders of a running job; the values read back through its HTTP API must equal what the job printed
# and wrote to its metrics file, and the endpoint's text must pass 'promtool check metrics'. The
# alerting rules of launch/monitoring load into that server and pass their promtool unit tests;
# every query of the Grafana dashboard runs on the job's series and returns data.
# Skipped (exit 77) when Prometheus cannot be installed. Stops every process it starts, pass or fail.
source "$(dirname "$0")/lib.sh"

need_packages prometheus curl jq
for cmd in prometheus promtool curl jq; do command -v "$cmd" >/dev/null || skip "'$cmd' not found after installing"; done

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
small_config "$cfg" "$data"

# Four consecutive free ports: port and port + 1 for the leaders of sites es and de (a job serves
# site i on monitoring.port + i), port + 2 for site es in the taken-port check at the end, port + 3
# for Prometheus, which scrapes port and port + 1 every second.
port=$(free_ports 4)
prom_port=$((port + 3))
monitoring=$FEDTRAIN_SOURCE_DIR/launch/monitoring
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $monitoring/fedtrain-alerts.yml
scrape_configs:
  - job_name: fedtrain
    static_configs:
      - targets: ['127.0.0.1:$port', '127.0.0.1:$((port + 1))']
YML
api=http://127.0.0.1:$prom_port/api/v1
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$WORK/prometheus.log" 2>&1 &
prom_pid=$!
at_exit 'stop_pid $prom_pid prometheus'

# Ready, and scraping: both targets have been tried once (they are down: no job yet). Starting
# the job only then means its few seconds are scraped from the start.
for _ in $(seq 300); do
  targets=$(curl -sf "$api/targets" 2>/dev/null) || targets=""
  [[ $(grep -o '"health":"down"' <<<"$targets" | wc -l) -eq 2 ]] && break
  alive "$prom_pid" || { cat "$WORK/prometheus.log"; fail "prometheus exited"; finish; }
  sleep 0.1
done
[[ $(grep -o '"health":"down"' <<<"$targets" | wc -l) -eq 2 ]] \
  || { tail -20 "$WORK/prometheus.log"; fail "prometheus did not start scraping within 30 s"; finish; }
pass "prometheus $(prometheus --version 2>&1 | head -1 | cut -d' ' -f3) scrapes 127.0.0.1:$port and :$((port + 1))"

# The job: the leaders keep serving 4 s (4 scrapes) after the last round.
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --monitoring.port="$port" --monitoring.address=127.0.0.1 \
  --monitoring.linger_s=4 >"$WORK/job.out" 2>&1 &
job_pid=$!
at_exit 'stop_pid $job_pid "the job (mpiexec)"'

# While it lingers: the endpoint's exposition passes promtool's lint.
scraped=""
for _ in $(seq 200); do
  scraped=$(curl -sf "http://127.0.0.1:$port/metrics" 2>/dev/null) && grep -q '^fedtrain_rounds_completed_total' <<<"$scraped" && break
  scraped=""
  alive "$job_pid" || break
  sleep 0.1
done
if [[ -z $scraped ]]; then
  fail "no fedtrain series at http://127.0.0.1:$port/metrics"
else
  lint=$(promtool check metrics <<<"$scraped" 2>&1) && pass "promtool check metrics" || fail "promtool check metrics: $lint"
fi

wait "$job_pid"
rc=$?
out=$(cat "$WORK/job.out")
[[ $rc -eq 0 ]] || { echo "$out"; fail "the job exited $rc"; finish; }
echo "$out" | grep -v warning
grep -q "Prometheus metrics at http://127.0.0.1:$((port + 1))/metrics" <<<"$out" || fail "site de's endpoint not announced"
rounds=$(sed -nE 's/^fedtrain: job e2e done: ([0-9]+) rounds.*/\1/p' <<<"$out")
[[ -n $rounds ]] || { fail "no summary line"; finish; }

# query EXPR [TIME]: the value of an instant query (first series), read from Prometheus' HTTP API.
query() {
  curl -sf --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} "$api/query" \
    | jq -r 'if .status == "success" and (.data.result | length) > 0 then .data.result[0].value[1] else empty end'
}
# Range selectors skip the staleness markers written once the job's endpoints went away.
for site in es de; do
  got=$(query "last_over_time(fedtrain_rounds_completed_total{job_id=\"e2e\",site=\"$site\"}[5m])")
  [[ $got == "$rounds" ]] && pass "prometheus: site $site completed $got rounds, as the job printed" \
    || fail "prometheus: fedtrain_rounds_completed_total of site $site is '$got', the job printed $rounds rounds"
done
egress_json=$(sed -E 's/.*"egress_bytes":([0-9]+).*/\1/' "$WORK/metrics.jsonl" | awk '{ s += $1 } END { print s }')
egress_prom=$(query 'sum(last_over_time(fedtrain_site_egress_bytes_total{job_id="e2e"}[5m]))')
[[ $egress_prom == "$egress_json" ]] && pass "prometheus: the sites sent $egress_prom bytes, as the metrics file says" \
  || fail "prometheus: sites sent '$egress_prom' bytes, the metrics file says $egress_json"
acc_json=$(tail -1 "$WORK/metrics.jsonl" | sed -E 's/.*"test_accuracy":([0-9.e-]+).*/\1/')
acc_prom=$(query 'last_over_time(fedtrain_test_accuracy{job_id="e2e",site="de"}[5m])')
awk -v a="$acc_prom" -v b="$acc_json" 'BEGIN { exit !(a != "" && a - b < 1e-6 && b - a < 1e-6) }' \
  && pass "prometheus: test accuracy $acc_prom on site de, as the metrics file says" \
  || fail "prometheus: test accuracy '$acc_prom', the metrics file says $acc_json"

# A port that is taken (here Prometheus' own, the second site's port + 1; the first site's, port + 2,
# is free) stops the job at start-up.
expect_exit 1 "site 'de': cannot serve Prometheus metrics on 127.0.0.1:$prom_port.*monitoring.port" \
  "a taken port is a start-up error naming site and port" -- \
  "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --monitoring.port=$((port + 2)) --monitoring.address=127.0.0.1

# Alerting rules: valid, their unit tests pass, and the server loaded and evaluated them.
lint=$(promtool check rules "$monitoring/fedtrain-alerts.yml" 2>&1) && pass "promtool check rules" || fail "promtool check rules: $lint"
lint=$(cd "$FEDTRAIN_SOURCE_DIR/tests/e2e" && promtool test rules fedtrain-alerts.test.yml 2>&1) \
  && pass "promtool test rules: the alerts fire when and as they should" || fail "promtool test rules: $lint"
rules=$(curl -sf "$api/rules" | jq -r '[.data.groups[].rules[] | select(.health == "ok")] | length')
[[ $rules == 5 ]] && pass "prometheus loaded and evaluated the 5 alerting rules" || fail "healthy rules: '$rules', expected 5"

# The dashboard: valid JSON, and each of its queries returns data at the time of the last scrape of
# the job (during the leaders' linger, after the last round).
dashboard=$monitoring/grafana-dashboard.json
if ! exprs=$(jq -r '.panels[].targets[]?.expr' "$dashboard"); then
  fail "$dashboard is not valid JSON"
else
  at=$(curl -sf --data-urlencode 'query=fedtrain_last_round{job_id="e2e",site="es"}[5m]' "$api/query" \
       | jq -r '.data.result[0].values[-1][0]')
  n=0
  while read -r expr; do
    n=$((n + 1))
    q=${expr//\$job_id/e2e}
    q=${q//\$site/.*}
    q=${q//\$__rate_interval/1m}
    [[ -n $(query "$q" "$at") ]] || fail "dashboard query returns nothing: $q"
  done <<<"$exprs"
  pass "the $n queries of the Grafana dashboard return data"
fi
finish
