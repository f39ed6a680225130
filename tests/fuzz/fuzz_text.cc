// Fuzz target: the text corpus readers of 'fedtrain data text': an HTML help page (libxml2,
// runtime/data/html_text.cc) through the prose filter (text_filter.cc, utf8.cc) into a split
// (text_corpus.cc); a user's --text file (read_text_file: UTF-8 check, blocks); and a help pack's
// Debian control file with a language code (find_help_pack_if_present, help_pack.cc).
//
// Input: one byte that picks the mode (byte % 3) and the site's language (byte / 3 % 11), then the
// page, the text file, or "LANGUAGE\nCONTROL FILE" (a help-pack cache exists for es and pt-br).
// An Error (ConfigError included) is the expected answer; anything else escaping is a finding.
// Checked besides "no crash": text that passes the UTF-8 check decodes and re-encodes to itself,
// every paragraph is one non-empty line without outer white space, and the split keeps or drops
// each paragraph exactly once.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/data/help_pack.h"
#include "runtime/data/html_text.h"
#include "runtime/data/text_corpus.h"
#include "runtime/data/text_filter.h"
#include "runtime/data/utf8.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace fedtrain;

const char* const kLanguages[] = {"es", "de", "fr", "it", "pt-br", "nl", "pl", "en", "en-us", "xx", ""};

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_text: %s\n", what.c_str());
  std::abort();
}

void encode(std::string& s, char32_t c) {
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
}

void check_utf8(std::string_view bytes) {
  const bool valid = !find_invalid_utf8(bytes).has_value();
  std::string again;
  for (size_t i = 0; i < bytes.size();) {
    const size_t before = i;
    const char32_t c = next_code_point(bytes, i);
    if (i <= before || i > bytes.size()) finding("next_code_point did not move forward inside the text");
    if (valid) encode(again, c);
  }
  if (valid && again != bytes) finding("well-formed UTF-8 does not decode and re-encode to itself");
}

void check_paragraphs(const std::vector<TextDocument>& docs) {
  for (const auto& d : docs)
    for (const auto& p : d.paragraphs)
      if (p.empty() || p.find('\n') != std::string::npos || p.front() == ' ' || p.back() == ' ')
        finding("a paragraph is empty, spans lines or has outer spaces: '" + p + "'");
}

void check_split(const std::vector<TextDocument>& docs, const TextFilter* filter) {
  std::vector<DroppedParagraph> dropped;
  const TextSplit s = build_text_split(docs, filter, SplitRule{0.3, 7}, &dropped);
  if (s.counts.dropped() != dropped.size()) finding("the split's counts do not match the paragraphs it dropped");
  for (const auto& d : docs)
    for (const auto& p : d.paragraphs) {
      check_utf8(p);
      if (filter) (void)filter->classify(p);
    }
}

void html_page(const std::string& path, const std::string& language) {
  std::vector<std::string> paragraphs = html_file_paragraphs(path);
  std::vector<TextDocument> docs = {{"text/page.html", paragraphs}, {"text/other.html", {}}};
  check_paragraphs(docs);
  const std::unordered_set<std::string> english(paragraphs.begin(), paragraphs.begin() + (paragraphs.size() + 1) / 2);
  const TextFilter filter(language, &english);
  check_split(docs, &filter);
}

void text_file(const std::string& path, std::string_view bytes) {
  check_utf8(bytes);
  const std::vector<TextDocument> docs = read_text_file(path);
  check_paragraphs(docs);
  check_split(docs, nullptr);
}

// SOURCE/libreoffice-help-LANG/{usr/share/libreoffice/help/DIR/text, DEBIAN/} for es and pt-br.
const std::string& help_cache() {
  static const std::string dir = [] {
    const std::string d = fuzz::temp_dir("fuzz-text-help");
    for (const char* lang : {"es", "pt-br"}) {
      const std::string tree = d + "/" + help_package_name(lang);
      std::filesystem::create_directories(tree + "/usr/share/libreoffice/help/" + help_dir_name(lang) + "/text");
      std::filesystem::create_directories(tree + "/DEBIAN");
    }
    return d;
  }();
  return dir;
}

void help_control(std::string_view bytes) {
  const size_t nl = bytes.find('\n');
  const std::string language(bytes.substr(0, nl));
  const std::string_view control = nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
  for (const char* lang : {"es", "pt-br"}) {
    std::ofstream(help_cache() + "/" + help_package_name(lang) + "/DEBIAN/control", std::ios::binary | std::ios::trunc)
        .write(control.data(), static_cast<std::streamsize>(control.size()));
  }
  if (auto pack = find_help_pack_if_present(language, help_cache())) {
    if (pack->version.empty() || pack->language != language) finding("a help pack was found without its version");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static fuzz::InputFile file("fuzz-text");
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string language = kLanguages[data[0] / 3 % std::size(kLanguages)];
  try {
    switch (data[0] % 3) {
      case 0: html_page(file.hold(data + 1, size - 1), language); break;
      case 1: text_file(file.hold(data + 1, size - 1), body); break;
      default: help_control(body); break;
    }
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_text", e);
  }
  return 0;
}
