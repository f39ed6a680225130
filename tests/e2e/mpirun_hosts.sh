#!/usr/bin/env bash
# The mpirun wrapper across hosts: two stand-in hosts (network namespaces, launch/local-hosts.sh),
# a hostfile with one site per host, MPI_NET for Open MPI's networks, the hosts reached through
# local-hosts.sh as rsh agent. The placement must put each site on its own host, and the rounds
# must equal those of the same job on one host.
# Skipped (exit 77) without root or where network namespaces cannot be made.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) -eq 0 ]] || skip "stand-in hosts need root (network namespaces)"
need_packages iproute2
hosts_tool=$FEDTRAIN_SOURCE_DIR/launch/local-hosts.sh
hdir=$WORK/hosts
at_exit '"$hosts_tool" down "$hdir"'
net=$("$hosts_tool" up "$hdir" 2 2>"$WORK/hosts.err") || skip "cannot make stand-in hosts: $(cat "$WORK/hosts.err")"
pass "stand-in hosts on $net: $(cut -d' ' -f1,2 "$hdir/hosts" | tr '\n' ' ')"

data=$WORK/data
small_data "$data"
small_config "$WORK/run.ini" "$data"
"$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$WORK/run.ini" --run.metrics_file="$WORK/one-host.jsonl" \
  >"$WORK/one-host.out" 2>&1 || { cat "$WORK/one-host.out"; fail "the one-host run"; finish; }

printf 'n1 slots=2\nn2 slots=2\n' >"$WORK/hostfile"
out=$(HOSTFILE=$WORK/hostfile MPI_NET=$net MPIRUN_ARGS=--display-map \
      OMPI_MCA_plm_rsh_agent="$hosts_tool exec $hdir" FEDTRAIN_BIN=$FEDTRAIN_BIN \
      timeout 120 "$FEDTRAIN_SOURCE_DIR/launch/fedtrain-mpirun" "$WORK/run.ini" 2>&1)
rc=$?
echo "$out" | grep -v warning
[[ $rc -eq 0 ]] || { fail "fedtrain-mpirun over two hosts exited $rc"; finish; }
# --display-map (printed by mpirun and again by each host's daemon): "Data for node: n1 ...",
# then a "Process rank: R" line per rank placed there.
map=$(awk '/Data for node:/ { node = $4 }
           /Process rank:/ { for (i = 1; i < NF; ++i) if ($i == "rank:") print node ":" $(i + 1) }' <<<"$out" \
      | sort -u | tr '\n' ' ')
[[ $map == "n1:0 n1:1 n2:2 n2:3 " ]] \
  && pass "ranks 0,1 (site es) on n1, ranks 2,3 (site de) on n2" || fail "placement: '$map'"
grep -qE "^fedtrain: job e2e done: 3 rounds, sites es=2 de=2" <<<"$out" || fail "no summary line"
cut -d, -f2-8 "$WORK/one-host.jsonl" >"$WORK/a"
cut -d, -f2-8 "$WORK/metrics.jsonl" >"$WORK/b"
cmp -s "$WORK/a" "$WORK/b" && pass "two hosts give the same rounds as one" || fail "two-host metrics differ from one host's"
finish
