// Reading documents, the document-level split and the filtered, deduplicated train/val text.
#include "runtime/data/text_corpus.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"
#include "runtime/data/html_text.h"
#include "runtime/data/utf8.h"

namespace fs = std::filesystem;

namespace fedtrain {

std::vector<TextDocument> read_help_pages(const std::string& dir) {
  std::vector<std::string> pages;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".html")
      pages.push_back(it->path().lexically_relative(dir).generic_string());
  }
  if (ec) throw Error("cannot list help pages under '" + dir + "': " + ec.message());
  if (pages.empty()) throw Error("no *.html help pages under '" + dir + "': is the pack complete?");
  std::sort(pages.begin(), pages.end());
  std::vector<TextDocument> docs;
  docs.reserve(pages.size());
  for (std::string& p : pages) {
    std::vector<std::string> paragraphs = html_file_paragraphs(dir + "/" + p);
    docs.push_back({std::move(p), std::move(paragraphs)});
  }
  return docs;
}

std::vector<TextDocument> split_text(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // byte-order mark
  std::vector<std::vector<std::string>> blocks(1);
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string line = collapse_whitespace(text.substr(i, j - i));
    if (!line.empty()) blocks.back().push_back(std::move(line));
    else if (!blocks.back().empty()) blocks.emplace_back();
    i = j + 1;
  }
  if (blocks.back().empty()) blocks.pop_back();
  if (blocks.size() == 1) {  // no blank line: every line is a document
    std::vector<std::vector<std::string>> lines;
    for (std::string& p : blocks[0]) lines.push_back({std::move(p)});
    blocks = std::move(lines);
  }
  std::vector<TextDocument> docs;
  for (auto& b : blocks) {
    char key[32];
    std::snprintf(key, sizeof key, "%06zu", docs.size());
    docs.push_back({key, std::move(b)});
  }
  return docs;
}

std::vector<TextDocument> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read text file '" + path + "': " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw ConfigError("cannot read text file '" + path + "': read error");
  const std::string text = s.str();
  if (auto bad = find_invalid_utf8(text))
    throw ConfigError("text file '" + path + "' is not valid UTF-8: at byte offset " + std::to_string(bad->offset) +
                      " there is " + bad->what + "; convert it first (e.g. iconv -f LATIN1 -t UTF-8)");
  std::vector<TextDocument> docs = split_text(text);
  if (docs.empty()) throw ConfigError("text file '" + path + "' holds no text (only white space)");
  return docs;
}

std::vector<bool> validation_documents(const std::vector<std::string>& keys, const SplitRule& rule) {
  const size_t n = keys.size();
  std::vector<bool> val(n, false);
  if (n < 2 || !(rule.val_fraction > 0.0)) return val;
  size_t count = static_cast<size_t>(std::llround(rule.val_fraction * static_cast<double>(n)));
  count = std::clamp<size_t>(count, 1, n - 1);
  std::vector<std::pair<Sha256Digest, size_t>> order(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string salted = std::to_string(rule.seed) + ":" + keys[i];
    order[i] = {sha256(salted.data(), salted.size()), i};
  }
  std::sort(order.begin(), order.end());
  for (size_t k = 0; k < count; ++k) val[order[k].second] = true;
  return val;
}

TextSplit build_text_split(const std::vector<TextDocument>& documents, const TextFilter* filter,
                           const SplitRule& rule, std::vector<DroppedParagraph>* dropped) {
  std::vector<std::string> keys;
  keys.reserve(documents.size());
  for (const auto& d : documents) keys.push_back(d.key);
  const std::vector<bool> val = validation_documents(keys, rule);

  TextSplit out;
  CorpusCounts& c = out.counts;
  c.documents = documents.size();
  std::unordered_set<std::string_view> seen;  // views into `documents`, which outlive this call
  for (size_t i = 0; i < documents.size(); ++i) {
    if (val[i]) ++c.val_documents;
    for (const std::string& p : documents[i].paragraphs) {
      ++c.paragraphs;
      const Verdict v = filter ? filter->classify(p) : Verdict::kKeep;
      ++c.verdicts[static_cast<size_t>(v)];
      std::string reason;
      if (v != Verdict::kKeep) reason = verdict_name(v);
      else if (!seen.insert(p).second) reason = "duplicate";
      if (!reason.empty()) {
        if (reason == "duplicate") ++c.duplicates;
        if (dropped) dropped->push_back({reason, documents[i].key, p});
        continue;
      }
      std::string& dst = val[i] ? out.val : out.train;
      dst += p;
      dst += '\n';
      ++(val[i] ? c.val_paragraphs : c.train_paragraphs);
    }
  }
  return out;
}

double byte_entropy_bits(std::string_view bytes) {
  if (bytes.empty()) return 0.0;
  std::array<size_t, 256> n{};
  for (char b : bytes) ++n[static_cast<unsigned char>(b)];
  double h = 0.0;
  const double total = static_cast<double>(bytes.size());
  for (size_t k : n) {
    if (k == 0) continue;
    const double p = static_cast<double>(k) / total;
    h -= p * std::log2(p);
  }
  return h;
}

}  // namespace fedtrain
