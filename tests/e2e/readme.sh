#!/usr/bin/env bash
# README.md as a new user runs it, as root: its first command (launch/demo.sh), then every later
# ```sh block in order, in a copy of the repository, failing on any nonzero exit. The second block
# (launch/test.sh, this suite itself) is not run. Open MPI's root and oversubscription variables of
# the test environment are removed, so the README's own flags must do.
#
# One stand-in: in the copy, launch/build.sh prints what make prints instead of building (a first
# build takes minutes); demo.sh is pointed at this build's folder with
# FEDTRAIN_BUILD_DIR and installs from it for real, into FEDTRAIN_PREFIX=$WORK/prefix instead of
# /usr/local, whose bin/ is put first on PATH as /usr/local/bin is for root.
source "$(dirname "$0")/lib.sh"
: "${FEDTRAIN_BUILD_DIR:?run through ctest}"
unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe OPENBLAS_NUM_THREADS FEDTRAIN_BIN

# The copy: the files git knows (tracked, and new ones not ignored), or everything but build output.
copy=$WORK/fedtrain
mkdir -p "$copy"
if files=$(git -C "$FEDTRAIN_SOURCE_DIR" ls-files --cached --others --exclude-standard 2>/dev/null); then
  (cd "$FEDTRAIN_SOURCE_DIR" && while IFS= read -r f; do [[ -e $f ]] && printf '%s\0' "$f"; done <<<"$files" \
    | tar --null -T - -cf -) | tar -C "$copy" -xf -
else
  tar -C "$FEDTRAIN_SOURCE_DIR" --exclude='./build*' --exclude=./data --exclude=./runs --exclude=./.git -cf - . \
    | tar -C "$copy" -xf -
fi
[[ -f $copy/README.md && -x $copy/launch/demo.sh ]] || { fail "cannot copy the repository"; finish; }
cat >"$copy/launch/build.sh" <<'SH'
#!/usr/bin/env bash
# e2e_readme's stand-in for the build: a silent configure step, then the lines make prints.
sleep 3
for i in $(seq 1 20); do echo "[$(printf '%3d' $((i * 5)))%] Building CXX object stand-in/file$i.cc.o"; sleep 0.2; done
SH

# The ```sh blocks of the README, one file each.
awk -v dir="$WORK" '/^```sh$/ {n++; out = dir "/block-" n ".sh"; next} /^```/ {out = ""; next} out {print > out}' \
  "$copy/README.md"
blocks=$(ls "$WORK"/block-*.sh 2>/dev/null | wc -l)
[[ $blocks -ge 3 && $(cat "$WORK/block-1.sh") == launch/demo.sh && $(cat "$WORK/block-2.sh") == launch/test.sh ]] \
  || { fail "README: expected launch/demo.sh, launch/test.sh, then more \`\`\`sh blocks; found $blocks"; finish; }

export PATH=$WORK/prefix/bin:$PATH
run_block() {
  local n=$1
  shift
  echo "--- README block $n:"
  sed 's/^/    /' "$WORK/block-$n.sh"
  if (cd "$copy" && env "$@" timeout 900 bash -e -o pipefail "$WORK/block-$n.sh") >"$WORK/block-$n.out" 2>&1; then
    pass "README block $n"
  else
    local rc=$?
    tail -30 "$WORK/block-$n.out" >&2
    fail "README block $n exited $rc"
    finish
  fi
}

# 1. launch/demo.sh: progress and a time estimate while building, fedtrain on PATH afterwards.
run_block 1 FEDTRAIN_BUILD_DIR="$FEDTRAIN_BUILD_DIR" FEDTRAIN_PREFIX="$WORK/prefix"
out=$(cat "$WORK/block-1.out")
grep -qE "^demo: building fedtrain in .*a first build takes about [0-9]+ minutes on [0-9]+ idle cores" <<<"$out" \
  && pass "demo.sh says it is building, with a time estimate" || fail "no build estimate in: $(head -5 <<<"$out")"
grep -qE "^demo: building: +100% \(20 files compiled\)" <<<"$out" && grep -qE "^demo: building: +[1-9][0-9]?% " <<<"$out" \
  && pass "demo.sh counts the build's progress" || fail "no progress count in: $(head -12 <<<"$out")"
grep -q "^demo: installed fedtrain and fedtrain-mpirun in $WORK/prefix/bin" <<<"$out" \
  && [[ $(command -v fedtrain) == "$WORK/prefix/bin/fedtrain" ]] && pass "demo.sh leaves fedtrain on PATH" \
  || fail "fedtrain not installed on PATH: $(command -v fedtrain)"
grep -q "job quickstart done: 20 rounds" <<<"$out" && pass "the demo trains 20 rounds" || fail "demo run: $(tail -5 <<<"$out")"

# 2. launch/test.sh is this suite. 3... the rest, in order, as written.
for n in $(seq 3 "$blocks"); do run_block "$n"; done

# The shipped configs name the demo's files (../data beside configs/) from any working directory;
# the language-model ones, whose text the demo did not fetch, name it there too.
mkdir -p "$WORK/elsewhere"
for ini in quickstart non-iid; do
  expect_exit 0 "^test = $copy/data/fashion-mnist-" "configs/$ini.ini from another folder" -- \
    bash -c "cd '$WORK/elsewhere' && fedtrain config --config '$copy/configs/$ini.ini'"
done
for ini in multilingual multilingual-centralized; do
  expect_exit 2 "names '$copy/data/text/train-[a-z]+\.h5', which does not exist" "configs/$ini.ini names data/text/" -- \
    fedtrain config --config "$copy/configs/$ini.ini"
done
finish
