#!/usr/bin/env bash
# Preemption through the CLI (2 sites x 2 ranks under mpirun, real data): SIGUSR1 to mpirun in the
# middle of a round (mpirun forwards it to every rank) stops the job at that round's boundary with a
# checkpoint and exit code 3; running the same command again resumes and ends bit-identical to an
# uninterrupted run. The same holds when the signal reaches one rank only, and for SIGTERM delivered
# to the ranks (as Slurm does at a time limit).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ckpt_lib.sh"

data=$WORK/data
small_data "$data"
cfg=$WORK/run.ini
ckpt_config "$cfg" "$data"
# Long enough rounds that a signal lands inside one, and enough of them (rounds of about 35 ms) that a
# signal sent after round 2 from a shell slowed by a loaded machine still lands before the last one
# (with 8 rounds it once landed in the last, and the job, complete, exited 0); no periodic checkpoint,
# so the file after a stop comes from the stop itself (every=100: only the last round's otherwise).
R=16
opts=(--federation.rounds=$R --federation.local_steps=300 --checkpoint.every=100)
run4 --config "$cfg" $(dirs ref) "${opts[@]}" >/dev/null 2>&1 || fail "reference run"
[[ $(intact_rounds "$WORK/ref/es") == "$R" ]] || fail "reference: es holds $(ls "$WORK/ref/es")"

# stop_case NAME SIGNAL TARGET: starts the job, waits for 2 finished rounds, sends SIGNAL to TARGET
# (mpirun | one | all: mpirun, a single rank, every rank), expects exit 3 and a checkpoint of the
# round in progress, then resumes and compares with the reference.
stop_case() {
  local name=$1 sig=$2 target=$3 pid ranks rc before after stopped out
  "$MPIEXEC" -n 4 "$FEDTRAIN_BIN" run --config "$cfg" $(dirs "$name") "${opts[@]}" >"$WORK/$name.out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do [[ -s $WORK/$name.jsonl && $(wc -l <"$WORK/$name.jsonl") -ge 2 ]] && break; sleep 0.02; done
  before=$(wc -l <"$WORK/$name.jsonl")
  ranks=($(pgrep -P "$pid"))  # mpirun's children are the ranks, in start order
  case $target in
    mpirun) kill -"$sig" "$pid" ;;
    one) kill -"$sig" "${ranks[3]}" ;;
    all) kill -"$sig" "${ranks[@]}" ;;
  esac
  after=$(wc -l <"$WORK/$name.jsonl")  # rounds finished by the time the signal was sent, at most
  wait "$pid"
  rc=$?
  stopped=$(tail -1 "$WORK/$name.jsonl" | sed -E 's/.*"round":([0-9]+).*/\1/')
  out=$(cat "$WORK/$name.out")
  echo "$name: SIG$sig to $target after $before rounds; exit $rc; the last round run was $stopped"
  [[ $rc -eq 3 ]] || { fail "$name: exit $rc, expected 3"; tail -20 <<<"$out" >&2; return; }
  # The round in progress when the signal came: after `before` rounds, and, when the signal went to
  # ranks, at most two after the `after` rounds whose lines were written when kill returned: the
  # ranks agree on a stop at the end of a round, just before rank 0 writes that round's line, so a
  # signal in between stops the next round (however slowly this shell ran). A signal to mpirun
  # reaches the ranks when mpirun forwards it: on a loaded machine that took up to 5 rounds of
  # 35 ms here, so then only "before the last round" is fedtrain's to keep.
  local latest=$((after + 2))
  [[ $target == mpirun ]] && latest=$((R - 1))
  ((stopped > before && stopped <= latest && stopped < R)) \
    || { fail "$name: stopped after round $stopped, expected the round in progress after $before..$after"; return; }
  grep -q "SIG$sig asked the job to stop: round $stopped is checkpointed in '$WORK/$name/es/$(printf 'round-%06d.h5' "$stopped")'" \
    <<<"$out" || { fail "$name: stop not stated: $(grep -i stop <<<"$out")"; return; }
  [[ $(intact_rounds "$WORK/$name/es") == "$stopped" && $(intact_rounds "$WORK/$name/de") == "$stopped" ]] \
    || { fail "$name: checkpoints after the stop: es $(ls "$WORK/$name/es"), de $(ls "$WORK/$name/de")"; return; }
  pass "$name: SIG$sig to $target: exit 3 with round $stopped checkpointed on both sites"
  out=$(run4 --config "$cfg" $(dirs "$name") "${opts[@]}" 2>&1) || { echo "$out" | tail; fail "$name: resume"; return; }
  grep -q "resuming job 'e2e' after round $stopped " <<<"$out" || { fail "$name: resume not after round $stopped"; return; }
  same_state ref "$name" "$R" "$name: stopped and resumed"
}

stop_case usr1 USR1 mpirun
stop_case usr1_one_rank USR1 one
stop_case term_all_ranks TERM all
finish
