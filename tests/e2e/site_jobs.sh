#!/usr/bin/env bash
# One job per site (issue 10): three sites as three separate mpirun jobs on loopback (es 2 ranks,
# de 1, fr 1), started one after the other in no particular order, their leaders joined over TCP,
# secure aggregation. Every site ends with the same model, and it is the model of the same config
# launched as one MPI world.
source "$(dirname "$0")/lib.sh"

data=$WORK/data
"$FEDTRAIN_BIN" data fashion-mnist --out "$data" --sites es,de,fr --train-limit 6000 --test-limit 1000 \
  --source "${FEDTRAIN_FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}" >/dev/null || { echo "cannot prepare data" >&2; exit 1; }
for site in es de fr; do "$FEDTRAIN_BIN" keygen --site "$site" --out "$WORK/keys" >/dev/null || exit 1; done
port=$(free_ports 3)

cfg=$WORK/fed.ini
{
  printf '[run]\njob_id = sites\n[data]\ntest = %s/test.h5\nbatch_size = 32\n[model]\nhidden = 64\n' "$data"
  printf '[federation]\nrounds = 3\nlocal_steps = 20\nconnect_timeout_s = 120\npeer_timeout_s = 120\n'
  i=0
  for site in es de fr; do
    ranks=1; [[ $site == es ]] && ranks=2
    printf '[site.%s]\nranks = %d\ndata = %s/train-%s.h5\npublic_key_file = %s/keys/%s.pub\nsecret_key = %s/keys/%s.key\n' \
      "$site" "$ranks" "$data" "$site" "$WORK" "$site" "$WORK" "$site"
    printf 'egress_log = %s/egress-%s.jsonl\nleader = 127.0.0.1:%d\nlisten = 127.0.0.1:%d\n' "$WORK" "$site" $((port + i)) $((port + i))
    i=$((i + 1))
  done
} >"$cfg"

hashes() { grep -oE 'global model after round 3 has sha256 [0-9a-f]{64}' "$@" | awk '{print $NF}' | sort -u; }

# The same config as one MPI world (rank blocks): the reference model.
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" --run.metrics_file="$WORK/world.jsonl" >"$WORK/world.out" 2>&1 \
  || { tail -20 "$WORK/world.out"; fail "one MPI world"; finish; }
world=$(hashes "$WORK/world.out")
[[ $(wc -l <<<"$world") -eq 1 && -n $world ]] || fail "one MPI world: the leaders printed $(wc -l <<<"$world") hashes"
rm -f "$WORK"/egress-*.jsonl

# start_sites TAG [DE_ARGS...]: the three jobs, fr first, then es, then de (with DE_ARGS), each its own
# mpirun, all with the options in all_args; waits for all, outputs in $WORK/TAG-SITE.out, exit codes
# in codes[SITE]. es and fr start through the wrapper (launch/fedtrain-mpirun --site es, and
# FEDTRAIN_SITE=fr), which sizes each job from its site's ranks; de by hand with mpiexec -n 1.
declare -A codes
all_args=()
wrapper=$FEDTRAIN_SOURCE_DIR/launch/fedtrain-mpirun
start_sites() {
  local tag=$1 site
  shift
  local -A pid_of
  for site in fr es de; do
    local cmd args=("$cfg" --run.metrics_file="$WORK/$tag-$site.jsonl" "${all_args[@]}")
    case $site in
      es) cmd=("$wrapper" --site es "${args[@]}") ;;
      fr) cmd=(env FEDTRAIN_SITE=fr "$wrapper" "${args[@]}") ;;
      de) cmd=("$MPIEXEC" -n 1 "$FEDTRAIN_BIN" run --config "${args[@]}" --site de "$@") ;;
    esac
    "${cmd[@]}" >"$WORK/$tag-$site.out" 2>&1 &
    pid_of[$site]=$!
    at_exit "stop_pid $! 'job of site $site'"
    sleep 1
  done
  for site in fr es de; do
    wait "${pid_of[$site]}"
    codes[$site]=$?
  done
}

start_sites ok
for site in fr es de; do
  if [[ ${codes[$site]} -eq 0 ]]; then pass "site $site's job ended with exit 0"
  else fail "site $site's job: exit ${codes[$site]}"; tail -20 "$WORK/ok-$site.out" >&2; fi
  mv "$WORK/ok-$site.out" "$WORK/$site.out"
done
grep -q "connects to the other site leaders over TCP" "$WORK/es.out" || fail "es did not say it runs as one job per site"
grep -qE "^fedtrain: job sites done: 3 rounds, sites es=2 de=\? fr=\?" "$WORK/es.out" \
  || fail "es's summary line: $(grep 'job sites done' "$WORK/es.out")"
for site in es de fr; do
  h=$(hashes "$WORK/$site.out")
  [[ -n $h && $h == "$world" ]] && pass "site $site ends with the one-world model $world" \
    || fail "site $site ends with model '$h', the one-world launch with '$world'"
  expect_exit 0 "^ok: " "egress verify: $site's log" -- "$FEDTRAIN_BIN" egress verify "$WORK/egress-$site.jsonl"
  # Every message that left: the leaders' agreements and membership reports too, not only the exchange.
  for phase in settings agreement membership status outcome; do
    grep -q "\"phase\":\"$phase\"" "$WORK/egress-$site.jsonl" || fail "$site's egress log has no $phase line"
  done
done

# A start-up check that fails in one site's job (de's data file is missing) stops every site's job,
# agreed over the leaders: exit 1 everywhere, each job saying how many ranks failed.
rm -f "$WORK"/egress-*.jsonl
start_sites bad --site.de.data="$WORK/missing.h5"
for site in fr es de; do
  [[ ${codes[$site]} -eq 1 ]] && grep -q "start-up checks failed on 1 rank(s) of the federation" "$WORK/bad-$site.out" \
    && pass "de's missing data stops site $site's job too (exit 1)" \
    || { fail "site $site with de's data missing: exit ${codes[$site]}"; grep -E "error|rror:" "$WORK/bad-$site.out" >&2; }
done
grep -q "missing.h5" "$WORK/bad-de.out" || fail "de's job does not name its missing file"

# Plaintext aggregation over the same TCP links (the leaders still authenticate with their keys):
# the same model as plaintext in one MPI world.
all_args=(--allow-security-overrides --federation.secure=false)
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" "${all_args[@]}" --run.metrics_file="$WORK/pw.jsonl" \
  >"$WORK/plain-world.out" 2>&1 || { tail -20 "$WORK/plain-world.out"; fail "plaintext, one MPI world"; }
plain_world=$(hashes "$WORK/plain-world.out")
start_sites plain
for site in fr es de; do
  h=$(hashes "$WORK/plain-$site.out")
  [[ ${codes[$site]} -eq 0 && -n $h && $h == "$plain_world" ]] \
    && pass "plaintext: site $site's job ends with the one-world model $h" \
    || { fail "plaintext: site $site exit ${codes[$site]}, model '$h', one world '$plain_world'"; grep -E "rror" "$WORK/plain-$site.out" >&2; }
done
finish
