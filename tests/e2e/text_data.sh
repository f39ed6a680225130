#!/usr/bin/env bash
# 'fedtrain data text' through the CLI: the users' own text per site (no packages needed), the HDF5
# files checked with h5ls/h5dump and sha256sum, errors that exit 2 before anything is written, and,
# when a help pack can be fetched (cached between runs), one real site from libreoffice-help-es.
source "$(dirname "$0")/lib.sh"

# attr FILE NAME: the value of a root attribute, as h5dump prints it (quotes removed). An empty string
# is stored as one NUL byte (HDF5 has no 0-byte fixed strings), which h5dump shows as "\000".
attr() { h5dump -a "/$2" "$1" | sed -n 's/^ *(0): "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | sed 's/^\\000$//'; }
# tokens FILE OUT: the bytes of /tokens.
tokens() { rm -f "$2"; h5dump -d /tokens -b -o "$2" "$1" >/dev/null && touch "$2"; }

# 40 paragraphs per site, one line each, blank lines between, one repeated (deduplicated).
for site in es de; do
  for i in $(seq 1 40); do
    if [[ $site == es ]]; then echo "Párrafo número $i del texto propio, con acentos: año, corazón, pingüino."
    else echo "Absatz Nummer $i des eigenen Textes, mit Umlauten: Größe, Übung, schön."; fi
    echo
  done >"$WORK/$site.txt"
  echo "Dieser Absatz kommt zweimal vor." >>"$WORK/$site.txt"
  printf '\n   \n' >>"$WORK/$site.txt"
  echo "Dieser Absatz kommt zweimal vor." >>"$WORK/$site.txt"
done

out=$WORK/out
run_text() { "$FEDTRAIN_BIN" data text "$@"; }
log=$(run_text --out "$out" --text "es=$WORK/es.txt,de=$WORK/de.txt" --val-fraction 0.1 --seed 3 \
        --centralized all 2>&1) || { echo "$log"; fail "fedtrain data text --text"; finish; }
echo "$log"
grep -qE "^  es +file +- +42 +4 " <<<"$log" || fail "summary lacks the es line with 42 documents (blocks), 4 held out"
grep -qE "^  centralized all: train-all.h5 [0-9]+ bytes" <<<"$log" || fail "summary lacks the centralized line"
for f in train-es val-es train-de val-de train-all val-all; do
  [[ -f $out/$f.h5 ]] || fail "$f.h5 missing"
done
leftovers=$(find "$out" -name '*.part' -o -name '*.tmp')
[[ -z $leftovers ]] || fail "temporary files left: $leftovers"

# Format: /tokens uint8 [N], attributes, SHA-256 of the bytes.
for site in es de; do
  for split in train val; do
    f=$out/$split-$site.h5
    h5ls "$f" | grep -qE '^tokens +Dataset \{[0-9]+\}$' || fail "$split-$site: /tokens is not a 1-D dataset"
    h5dump -H -d /tokens "$f" | grep -q 'H5T_STD_U8LE' || fail "$split-$site: /tokens is not uint8"
    tokens "$f" "$WORK/$split-$site.bin" || fail "$split-$site: cannot dump /tokens"
    [[ $(attr "$f" sha256) == $(sha256sum <"$WORK/$split-$site.bin" | cut -d' ' -f1) ]] \
      || fail "$split-$site: sha256 attribute differs from sha256sum of /tokens"
    [[ $(attr "$f" bytes) == $(stat -c %s "$WORK/$split-$site.bin") ]] || fail "$split-$site: bytes attribute"
    [[ $(attr "$f" language) == "$site" && $(attr "$f" source) == file && -z $(attr "$f" source_version) ]] \
      || fail "$split-$site: language/source/source_version attributes"
    [[ $(attr "$f" split) == "$split" && $(attr "$f" filter) == none && $(attr "$f" seed) == 3 ]] \
      || fail "$split-$site: split/filter/seed attributes"
    iconv -f UTF-8 -t UTF-8 "$WORK/$split-$site.bin" >/dev/null || fail "$split-$site: not UTF-8"
  done
  # Train and val together hold every distinct paragraph once, and nothing else.
  diff <(cat "$WORK/train-$site.bin" "$WORK/val-$site.bin" | sort) <(grep -v '^ *$' "$WORK/$site.txt" | sort -u) \
    >/dev/null || fail "$site: train + val are not the file's distinct paragraphs"
done
pass "per-site files: /tokens uint8, attributes, sha256 = sha256sum, train + val = the distinct paragraphs"

# The same paragraph indices are held out at both sites (the split depends on seed and key only).
grep -o 'Nummer [0-9]*' "$WORK/val-de.bin" | cut -d' ' -f2 >"$WORK/val-de.idx"
grep -o 'número [0-9]*' "$WORK/val-es.bin" | cut -d' ' -f2 >"$WORK/val-es.idx"
cmp -s "$WORK/val-de.idx" "$WORK/val-es.idx" || fail "es and de hold out different paragraphs"

# Centralized: the sites' text concatenated in --sites order, the same tokens in all.
tokens "$out/train-all.h5" "$WORK/train-all.bin"
cmp -s "$WORK/train-all.bin" <(cat "$WORK/train-es.bin" "$WORK/train-de.bin") \
  || fail "train-all is not train-es followed by train-de"
[[ $(attr "$out/train-all.h5" language) == "es,de" ]] || fail "train-all language attribute"
pass "centralized: train-all = train-es + train-de"

# The output format (one paragraph per line) reads back as --text: without blank lines each line is a document.
tokens "$out/train-all.h5" "$WORK/all.txt"
run_text --out "$WORK/round" --text "xy=$WORK/all.txt" >/dev/null || fail "train-all.bin as --text"
tokens "$WORK/round/train-xy.h5" "$WORK/round-train.bin"
tokens "$WORK/round/val-xy.h5" "$WORK/round-val.bin"
diff <(cat "$WORK/round-train.bin" "$WORK/round-val.bin" | sort) <(sort -u "$WORK/all.txt") >/dev/null \
  || fail "the output read back as --text lost or added lines"
pass "the output format reads back as --text"

# Deterministic: the same command gives the same bytes; another seed another split.
run_text --out "$WORK/again" --text "es=$WORK/es.txt,de=$WORK/de.txt" --val-fraction 0.1 --seed 3 >/dev/null \
  || fail "second run"
for f in train-es val-es train-de val-de; do
  [[ $(attr "$WORK/again/$f.h5" sha256) == $(attr "$out/$f.h5" sha256) ]] || fail "$f differs between two runs"
done
run_text --out "$WORK/seed4" --text "es=$WORK/es.txt" --val-fraction 0.1 --seed 4 >/dev/null || fail "seed 4 run"
[[ $(attr "$WORK/seed4/val-es.h5" sha256) != $(attr "$out/val-es.h5" sha256) ]] || fail "seed 4 holds out the same text"
pass "deterministic for a seed, different for another"

# Errors: exit 2, the culprit named, nothing written (a fresh --out is not even created; an existing one is untouched).
ls -l --time-style=+%s.%N "$out" >"$WORK/before"
printf 'Hola y buenos días.\n\nUn caf\xe9 con leche, por favor.\n' >"$WORK/bad.txt"
expect_exit 2 "text file '$WORK/bad.txt' is not valid UTF-8: at byte offset 28" "not UTF-8 (Latin-1 byte)" -- \
  run_text --out "$WORK/new1" --text "es=$WORK/bad.txt"
printf 'Bien.\n\nTruncado \xe2\x82' >"$WORK/trunc.txt"
expect_exit 2 "trunc.txt' is not valid UTF-8: at byte offset 16 there is a truncated sequence" "truncated UTF-8" -- \
  run_text --out "$WORK/new1" --text "es=$WORK/trunc.txt"
expect_exit 2 "libreoffice-help-xx is not installed.*launch/install-deps.sh libreoffice-help-xx" "pack not installed" -- \
  run_text --out "$WORK/new1" --sites xx
mkdir -p "$WORK/empty-cache"
expect_exit 2 "libreoffice-help-ka is not in --source '$WORK/empty-cache'.*--fetch-help $WORK/empty-cache ka" \
  "pack not in the cache" -- run_text --out "$out" --sites es,ka --text "es=$WORK/es.txt" --source "$WORK/empty-cache"
expect_exit 2 "--text names site 'fr', which is not in --sites" "--text site not in --sites" -- \
  run_text --out "$out" --sites es,de --text "fr=$WORK/es.txt"
echo "Un solo párrafo." >"$WORK/one.txt"
expect_exit 2 "one.txt' holds 1 line of text" "one line" -- run_text --out "$out" --text "es=$WORK/one.txt"
expect_exit 2 "--out DIR is required" "no --out" -- run_text --text "es=$WORK/es.txt"
expect_exit 2 "--val-fraction must be in \(0, 0.5\]" "bad --val-fraction" -- \
  run_text --out "$out" --text "es=$WORK/es.txt" --val-fraction 0.9
[[ ! -e $WORK/new1 ]] || fail "a failed run created its --out directory"
ls -l --time-style=+%s.%N "$out" >"$WORK/after"
cmp -s "$WORK/before" "$WORK/after" || fail "a failed run changed the existing --out directory"

# One real help pack, when it can be fetched (cached between runs; the first fetch downloads ~5 MB).
cache=${FEDTRAIN_HELP_CACHE:-${TMPDIR:-/tmp}/fedtrain-help-packs}
if fetch=$("$FEDTRAIN_SOURCE_DIR/launch/install-deps.sh" --fetch-help "$cache" es 2>&1); then
  log=$(run_text --out "$WORK/help" --sites es --source "$cache" 2>&1) || { echo "$log"; fail "real pack es"; }
  echo "$log"
  f=$WORK/help/train-es.h5
  version=$(sed -n 's/^Version: //p' "$cache/libreoffice-help-es/DEBIAN/control")
  [[ $(attr "$f" source) == libreoffice-help-es && $(attr "$f" source_version) == "$version" ]] \
    || fail "real pack: source/source_version should be libreoffice-help-es $version"
  [[ $(attr "$f" english_reference) == "libreoffice-help-en-us $version" ]] || fail "real pack: english_reference"
  [[ $(attr "$f" filter) == fedtrain-text-filter-1 ]] || fail "real pack: filter attribute"
  bytes=$(attr "$f" bytes)
  entropy=$(attr "$f" entropy_bits_per_byte)
  awk -v b="$bytes" -v h="$entropy" 'BEGIN { exit !(b > 1500000 && h > 4.0 && h < 5.0) }' \
    || fail "real pack: $bytes bytes at $entropy bits/byte, expected > 1.5 MB at 4..5 bits/byte"
  tokens "$f" "$WORK/help-es.bin"
  english=$(grep -cE '\b(the|of)\b.*\b(the|of|and|is)\b' "$WORK/help-es.bin")
  [[ $english -lt 20 ]] || fail "real pack: $english English-looking lines left in the Spanish text"
  pass "real pack libreoffice-help-es $version: $bytes bytes, $entropy bits/byte"
else
  echo "skipped: the real help pack part (cannot fetch libreoffice-help-es: $(tail -1 <<<"$fetch"))"
fi

finish
