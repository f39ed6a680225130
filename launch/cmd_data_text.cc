// fedtrain data text: each site's text corpus from a LibreOffice help pack, or from the user's own file.
//
//   fedtrain data text --out DIR --sites es,de,fr,it [--val-fraction 0.05] [--seed 1] [--source CACHE]
//                      [--text es=FILE,de=FILE] [--centralized NAME] [--dropped-log FILE]
//
// Writes DIR/train-<site>.h5 and DIR/val-<site>.h5 (/tokens uint8 [N], the
// UTF-8 bytes; attributes in runtime/data/token_shard.h), and with
// --centralized NAME also DIR/train-NAME.h5 and DIR/val-NAME.h5: every site's
// train (val) text concatenated in --sites order, so a centralized run sees
// exactly the tokens the federation sees. The steps:
//   1. every source is found and checked (packs present with a known version,
//      files readable and valid UTF-8) before anything is written: a missing
//      pack or a bad file exits 2 and leaves DIR as it was;
//   2. each site's corpus is built in memory (runtime/data/text_corpus.h);
//   3. every file is written under DIR/NAME.part and, when all are complete,
//      renamed onto its name; a failure removes the .part files.
// See docs/data.md.
#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_set>

#include "launch/commands.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/data/help_pack.h"
#include "runtime/data/html_text.h"
#include "runtime/data/text_corpus.h"
#include "runtime/data/text_filter.h"
#include "runtime/data/token_shard.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace fedtrain {
namespace {

constexpr const char* kEnglish = "en-us";

struct TextOptions {
  std::string out, source, centralized, dropped_log;
  std::vector<std::string> sites;
  std::map<std::string, std::string> text_files;  // site -> file
  double val_fraction = 0.05;
  uint64_t seed = 1;
};

// One site's source, found and checked (step 1).
struct SiteSource {
  std::string site;
  std::optional<HelpPack> pack;      // a help pack, or
  std::string file;                  // the user's file, already read:
  std::vector<TextDocument> documents;
};

struct SiteCorpus {
  SiteSource source;
  TextSplit split;
  double seconds = 0.0;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

std::vector<SiteSource> resolve_sources(const TextOptions& o) {
  std::vector<SiteSource> out;
  for (const std::string& site : o.sites) {
    SiteSource s{site, std::nullopt, "", {}};
    if (auto it = o.text_files.find(site); it != o.text_files.end()) {
      s.file = it->second;
      s.documents = read_text_file(s.file);
      if (s.documents.size() < 2)
        throw ConfigError("text file '" + s.file + "' holds 1 line of text: a train and a validation split need at "
                          "least 2 lines (or 2 blocks separated by a blank line)");
    } else {
      s.pack = find_help_pack(site, o.source);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Every paragraph of the English help, for the filter's english-identical test.
std::unordered_set<std::string> english_paragraphs(const HelpPack& en) {
  std::unordered_set<std::string> out;
  for (TextDocument& d : read_help_pages(en.dir))
    for (std::string& p : d.paragraphs) out.insert(std::move(p));
  return out;
}

SiteCorpus build_site(SiteSource s, const TextOptions& o, const std::unordered_set<std::string>* english,
                      std::vector<DroppedParagraph>* dropped) {
  const auto t0 = std::chrono::steady_clock::now();
  SiteCorpus c{std::move(s), {}, 0.0};
  const SplitRule rule{o.val_fraction, o.seed};
  if (c.source.pack) {
    const std::vector<TextDocument> docs = read_help_pages(c.source.pack->dir);
    const TextFilter filter(c.source.site, english);
    c.split = build_text_split(docs, &filter, rule, dropped);
  } else {
    c.split = build_text_split(c.source.documents, nullptr, rule, dropped);
  }
  for (const auto* part : {&c.split.train, &c.split.val})
    if (part->size() < 2)
      throw ConfigError("site '" + c.source.site + "': its " + (part == &c.split.train ? "train" : "validation") +
                        " text is " + std::to_string(part->size()) +
                        " bytes after filtering: give more text, or change --val-fraction");
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return c;
}

TokenShardAttributes common_attributes(const TextOptions& o, const std::string& english_reference) {
  TokenShardAttributes a;
  a.strings["seed"] = std::to_string(o.seed);
  a.strings["generator"] = "fedtrain data text";
  a.strings["english_reference"] = english_reference;
  a.reals["val_fraction"] = o.val_fraction;
  return a;
}

TokenShardAttributes site_attributes(const SiteCorpus& c, const std::string& split, TokenShardAttributes a) {
  const auto& src = c.source;
  const bool train = split == "train";
  a.strings["language"] = src.site;
  a.strings["source"] = src.pack ? src.pack->package : "file";
  a.strings["source_version"] = src.pack ? src.pack->version : "";
  a.strings["source_file"] = src.pack ? "" : src.file;
  a.strings["license"] = src.pack ? "MPL-2.0 (see /usr/share/doc/" + src.pack->package + "/copyright)" : "";
  a.strings["filter"] = src.pack ? kTextFilterRule : "none";
  if (!src.pack) a.strings["english_reference"] = "";
  a.strings["split"] = split;
  const CorpusCounts& n = c.split.counts;
  a.integers["paragraphs"] = static_cast<int64_t>(train ? n.train_paragraphs : n.val_paragraphs);
  a.integers["documents"] = static_cast<int64_t>(train ? n.documents - n.val_documents : n.val_documents);
  a.reals["entropy_bits_per_byte"] = byte_entropy_bits(train ? c.split.train : c.split.val);
  return a;
}

std::string join(const std::vector<SiteCorpus>& cs, const std::function<std::string(const SiteCorpus&)>& f) {
  std::string out;
  for (const auto& c : cs) out += (out.empty() ? "" : ",") + f(c);
  return out;
}

TokenShardAttributes centralized_attributes(const std::vector<SiteCorpus>& cs, const std::string& split,
                                            TokenShardAttributes a) {
  const bool train = split == "train";
  a.strings["language"] = join(cs, [](const SiteCorpus& c) { return c.source.site; });
  a.strings["source"] = join(cs, [](const SiteCorpus& c) { return c.source.pack ? c.source.pack->package : "file"; });
  a.strings["source_version"] = join(cs, [](const SiteCorpus& c) { return c.source.pack ? c.source.pack->version : ""; });
  a.strings["filter"] = join(cs, [](const SiteCorpus& c) { return c.source.pack ? kTextFilterRule : "none"; });
  a.strings["split"] = split;
  a.strings["centralized"] = "the sites' " + split + " text concatenated in --sites order";
  int64_t paragraphs = 0, documents = 0;
  for (const auto& c : cs) {
    const CorpusCounts& n = c.split.counts;
    paragraphs += static_cast<int64_t>(train ? n.train_paragraphs : n.val_paragraphs);
    documents += static_cast<int64_t>(train ? n.documents - n.val_documents : n.val_documents);
  }
  a.integers["paragraphs"] = paragraphs;
  a.integers["documents"] = documents;
  return a;
}

std::string summary(const TextOptions& o, const std::vector<SiteCorpus>& cs, const std::string& english_reference) {
  std::ostringstream s;
  char line[512];
  s << "fedtrain data text: " << cs.size() << " sites into " << o.out << "; split by document, val-fraction "
    << o.val_fraction << ", seed " << o.seed << "\n";
  bool any_pack = false;
  for (const auto& c : cs) any_pack = any_pack || c.source.pack.has_value();
  if (any_pack)
    s << "  help packs: filter " << kTextFilterRule << ", English reference "
      << (english_reference.empty() ? "none (" + help_package_name(kEnglish) + " not found)" : english_reference)
      << "\n";
  std::snprintf(line, sizeof line, "  %-6s %-24s %-20s %6s %5s %11s %9s %7s %7s %6s %7s %5s %5s %5s %5s %7s %6s\n",
                "site", "source", "version", "docs", "val", "train_bytes", "val_bytes", "kept", "dropped", "short",
                "symbol", "code", "e_id", "e_wd", "dup", "bits/B", "time_s");
  s << line;
  for (const auto& c : cs) {
    const CorpusCounts& n = c.split.counts;
    const auto v = [&](Verdict x) { return n.verdicts[static_cast<size_t>(x)]; };
    std::snprintf(line, sizeof line,
                  "  %-6s %-24s %-20s %6zu %5zu %11zu %9zu %7zu %7zu %6zu %7zu %5zu %5zu %5zu %5zu %7.3f %6.1f\n",
                  c.source.site.c_str(), c.source.pack ? c.source.pack->package.c_str() : "file",
                  c.source.pack ? c.source.pack->version.c_str() : "-", n.documents, n.val_documents,
                  c.split.train.size(), c.split.val.size(), n.train_paragraphs + n.val_paragraphs, n.dropped(),
                  v(Verdict::kShort), v(Verdict::kSymbols), v(Verdict::kCode), v(Verdict::kEnglishIdentical),
                  v(Verdict::kEnglishWords), n.duplicates, byte_entropy_bits(c.split.train), c.seconds);
    s << line;
  }
  s << "  (docs: pages, or blocks of a --text file; val: docs held out; kept/dropped: paragraphs; dropped = "
       "short + symbol + code + e_id (identical to English) + e_wd (English words) + dup (duplicate); bits/B: byte "
       "entropy of the train text)\n";
  return s.str();
}

void write_dropped_log(const std::string& path, const std::vector<std::pair<std::string, DroppedParagraph>>& rows) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << "site\treason\tdocument\tparagraph\n";
    for (const auto& [site, d] : rows) f << site << '\t' << d.reason << '\t' << d.document << '\t' << d.text << '\n';
    f.close();
    if (!f) throw Error("cannot write --dropped-log '" + tmp + "': check the directory and free space");
  }
  fs::rename(tmp, path);
}

int prepare(const TextOptions& o) {
  // 1. Find and check every source before writing anything.
  std::vector<SiteSource> sources = resolve_sources(o);
  bool any_pack = false;
  for (const auto& s : sources) any_pack = any_pack || s.pack.has_value();
  std::optional<HelpPack> en = any_pack ? find_help_pack_if_present(kEnglish, o.source) : std::nullopt;
  const std::string english_reference = en ? en->package + " " + en->version : "";

  // 2. Build each site's corpus in memory.
  std::unordered_set<std::string> english;
  if (en) english = english_paragraphs(*en);
  std::vector<SiteCorpus> corpora;
  std::vector<std::pair<std::string, DroppedParagraph>> dropped_rows;
  for (SiteSource& s : sources) {
    std::vector<DroppedParagraph> dropped;
    const std::string site = s.site;
    corpora.push_back(build_site(std::move(s), o, en ? &english : nullptr, o.dropped_log.empty() ? nullptr : &dropped));
    for (auto& d : dropped) dropped_rows.emplace_back(site, std::move(d));
  }

  // 3. Write every file as NAME.part, then rename them all.
  const bool made_dir = !fs::exists(o.out);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) throw Error("cannot create output directory '" + o.out + "': " + ec.message());
  std::vector<std::pair<std::string, std::string>> written;  // part, final
  try {
    const TokenShardAttributes common = common_attributes(o, english_reference);
    auto write = [&](const std::string& name, const std::string& tokens, const TokenShardAttributes& a) {
      const std::string path = o.out + "/" + name;
      write_token_shard(path + ".part", tokens, a);
      written.emplace_back(path + ".part", path);
    };
    for (const SiteCorpus& c : corpora) {
      write("train-" + c.source.site + ".h5", c.split.train, site_attributes(c, "train", common));
      write("val-" + c.source.site + ".h5", c.split.val, site_attributes(c, "val", common));
    }
    if (!o.centralized.empty()) {
      std::string train, val;
      for (const SiteCorpus& c : corpora) train += c.split.train, val += c.split.val;
      TokenShardAttributes a = common;
      a.reals["entropy_bits_per_byte"] = byte_entropy_bits(train);
      write("train-" + o.centralized + ".h5", train, centralized_attributes(corpora, "train", a));
      a.reals["entropy_bits_per_byte"] = byte_entropy_bits(val);
      write("val-" + o.centralized + ".h5", val, centralized_attributes(corpora, "val", a));
    }
    if (!o.dropped_log.empty()) write_dropped_log(o.dropped_log, dropped_rows);
    for (const auto& [part, final_path] : written) fs::rename(part, final_path);
  } catch (...) {
    for (const auto& [part, final_path] : written) fs::remove(part, ec);
    if (made_dir) fs::remove(o.out, ec);  // only if empty
    throw;
  }
  std::fputs(summary(o, corpora, english_reference).c_str(), stdout);
  if (!o.centralized.empty()) {
    size_t train = 0, val = 0;
    for (const auto& c : corpora) train += c.split.train.size(), val += c.split.val.size();
    std::printf("  centralized %s: train-%s.h5 %zu bytes, val-%s.h5 %zu bytes (all sites, in --sites order)\n",
                o.centralized.c_str(), o.centralized.c_str(), train, o.centralized.c_str(), val);
  }
  return kExitOk;
}

void check_options(TextOptions& o, const std::string& sites, const std::vector<std::string>& texts) {
  if (o.out.empty()) throw ConfigError("fedtrain data text: --out DIR is required");
  for (const std::string& group : texts) {
    for (const std::string& item : split_commas(group)) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
        throw ConfigError("fedtrain data text: --text takes SITE=FILE[,SITE=FILE...], got '" + item + "'");
      const std::string site = config_values::parse_name("--text", item.substr(0, eq));
      if (!o.text_files.emplace(site, item.substr(eq + 1)).second)
        throw ConfigError("fedtrain data text: site '" + site + "' has two --text files");
    }
  }
  if (sites.empty()) {
    if (o.text_files.empty())
      throw ConfigError("fedtrain data text: --sites is required, e.g. --sites es,de,fr,it (or --text es=FILE,...)");
    for (const auto& t : texts)
      for (const std::string& item : split_commas(t)) o.sites.push_back(item.substr(0, item.find('=')));
  } else {
    for (const std::string& name : split_commas(sites)) {
      config_values::parse_name("--sites", name);
      for (const auto& s : o.sites)
        if (s == name) throw ConfigError("fedtrain data text: site '" + name + "' is listed twice in --sites");
      o.sites.push_back(name);
    }
    for (const auto& [site, file] : o.text_files)
      if (std::find(o.sites.begin(), o.sites.end(), site) == o.sites.end())
        throw ConfigError("fedtrain data text: --text names site '" + site + "', which is not in --sites");
  }
  if (!(o.val_fraction > 0.0 && o.val_fraction <= 0.5))
    throw ConfigError("fedtrain data text: --val-fraction must be in (0, 0.5], e.g. 0.05");
  if (!o.centralized.empty()) {
    config_values::parse_name("--centralized", o.centralized);
    if (std::find(o.sites.begin(), o.sites.end(), o.centralized) != o.sites.end())
      throw ConfigError("fedtrain data text: --centralized '" + o.centralized + "' is also a site: choose another name");
  }
}

}  // namespace

int cmd_data_text(const std::vector<std::string>& args) {
  TextOptions o;
  std::string sites;
  std::vector<std::string> texts;
  po::options_description desc("fedtrain data text options");
  desc.add_options()("help,h", "this help")
      ("out", po::value(&o.out), "output directory (created)")
      ("sites", po::value(&sites), "comma-separated sites, each named by its language: es,de,fr,it,pt,nl,pl")
      ("text", po::value(&texts)->composing(), "SITE=FILE[,SITE=FILE]: a site's own UTF-8 text instead of a help pack")
      ("val-fraction", po::value(&o.val_fraction)->default_value(0.05, "0.05"), "share of documents held out for validation")
      ("seed", po::value(&o.seed)->default_value(1), "seed of the train/validation split")
      ("source", po::value(&o.source), "cache of extracted packs (launch/install-deps.sh --fetch-help DIR LANG...); "
                                       "default: the installed packs under /usr/share/libreoffice/help")
      ("centralized", po::value(&o.centralized), "also write train-NAME.h5 and val-NAME.h5 with every site's text")
      ("dropped-log", po::value(&o.dropped_log), "write every dropped paragraph and why (TSV) to this file");
  try {
    po::variables_map vm;
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(desc).style(style).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("usage: fedtrain data text --out DIR --sites es,de,fr,it [options]\n\n");
      std::cout << desc;
      return kExitOk;
    }
    check_options(o, sites, texts);
  } catch (const po::error& e) {
    return report_error(ConfigError(std::string("fedtrain data text: ") + e.what()));
  } catch (const Error& e) {
    return report_error(e);
  }
  try {
    return prepare(o);
  } catch (const Error& e) {
    return report_error(e);
  } catch (const fs::filesystem_error& e) {
    return report_error(Error(e.what()));
  }
}

}  // namespace fedtrain
