// A site's text corpus: documents (help pages, or paragraphs of a user's file) filtered, deduplicated and split.
//
// Steps, all deterministic:
//   1. documents in order: help pages sorted by their path under the pack's
//      directory (byte order), or a --text file's blocks in file order (below);
//   2. every paragraph goes through the TextFilter (help pages only; a user's
//      own text is trusted), then a kept paragraph that is byte-identical to one
//      kept before (anywhere in the site's text) is dropped as a duplicate;
//   3. split by document, so that no page is cut in two and validation text is
//      unseen in training: the validation documents are the round(f * n) of the
//      n documents (at least 1 if f > 0 and n >= 2, never all n) whose
//      SHA-256("<seed>:<key>") is smallest, key being the page's path (or the
//      block's index "000017" in a file). A help page has the same path in
//      every language, so with one seed every site holds out the same pages, and
//      no site trains on the translation of another site's validation text;
//   4. each split is its paragraphs in document order, each followed by "\n",
//      as UTF-8 bytes.
// A duplicate is only kept the first time, whichever split that falls in, so no
// paragraph appears in both.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/data/text_filter.h"

namespace fedtrain {

struct TextDocument {
  std::string key;                      // "text/scalc/01/05030000.html", or "000017"
  std::vector<std::string> paragraphs;  // each one line, its white space collapsed
};

// Every *.html page under `dir` (recursively), in byte order of its path
// relative to `dir`, with html_paragraphs() of each.
std::vector<TextDocument> read_help_pages(const std::string& dir);

// A user's own text: it must be well-formed UTF-8 (else a ConfigError, exit 2,
// naming the file and the byte offset); a leading byte-order mark is dropped.
// Every line that is not blank is a paragraph, its white space collapsed
// (collapse_whitespace); blank lines (only white space) separate documents,
// and a file without blank lines has one document per line. So the output of
// 'fedtrain data text' (one paragraph per line) reads back as it is.
std::vector<TextDocument> read_text_file(const std::string& path);
std::vector<TextDocument> split_text(std::string_view utf8);

struct SplitRule {
  double val_fraction = 0.05;  // share of documents held out, in [0, 1)
  uint64_t seed = 1;
};

// validation[i]: whether document i is held out (rule 3 above).
std::vector<bool> validation_documents(const std::vector<std::string>& keys, const SplitRule& rule);

struct CorpusCounts {
  size_t documents = 0, val_documents = 0;
  size_t paragraphs = 0;                    // read, before the filter
  std::array<size_t, kVerdicts> verdicts{};  // by Verdict; [kKeep] are those kept by the filter
  size_t duplicates = 0;                    // kept by the filter, dropped as duplicates
  size_t train_paragraphs = 0, val_paragraphs = 0;
  size_t dropped() const { return paragraphs - train_paragraphs - val_paragraphs; }
};

struct DroppedParagraph {
  std::string reason, document, text;
};

struct TextSplit {
  std::string train, val;  // UTF-8 bytes
  CorpusCounts counts;
};

// `filter` nullptr keeps every paragraph but duplicates. `dropped`, when given,
// receives every dropped paragraph with its reason (a verdict name or "duplicate").
TextSplit build_text_split(const std::vector<TextDocument>& documents, const TextFilter* filter,
                           const SplitRule& rule, std::vector<DroppedParagraph>* dropped = nullptr);

// Byte unigram entropy in bits per byte: -sum p(b) log2 p(b) over the 256 values; 0 for no bytes.
double byte_entropy_bits(std::string_view bytes);

}  // namespace fedtrain
