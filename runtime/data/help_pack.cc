// Finding a LibreOffice help pack and its Debian version: dpkg-query when installed, DEBIAN/control when cached.
#include "runtime/data/help_pack.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "runtime/core/error.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

constexpr const char* kInstalledHelp = "/usr/share/libreoffice/help";

// A language code as Debian names the packs: 2-3 letters, optionally "-" and 2-4 letters or digits.
bool is_language_code(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && std::islower(static_cast<unsigned char>(s[i]))) ++i;
  if (i < 2 || i > 3) return false;
  if (i == s.size()) return true;
  if (s[i] != '-') return false;
  const size_t region = s.size() - i - 1;
  if (region < 2 || region > 4) return false;
  for (size_t k = i + 1; k < s.size(); ++k)
    if (!std::islower(static_cast<unsigned char>(s[k])) && !std::isdigit(static_cast<unsigned char>(s[k])))
      return false;
  return true;
}

void check_language(const std::string& language) {
  if (!is_language_code(language))
    throw ConfigError("'" + language + "' is not a language code of a LibreOffice help pack (e.g. es, de, pt-br): "
                      "name sites by their language, or give their text with --text SITE=FILE");
}

bool has_pages(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir + "/text", ec);
}

struct PipeClose {
  void operator()(FILE* f) const { pclose(f); }
};

// dpkg's view of an installed package: its version, or "" when dpkg does not
// list it as installed (or dpkg-query is not there).
std::string installed_version(const std::string& package) {
  // `package` passed is_language_code, so it needs no shell quoting beyond the quotes.
  const std::string cmd = "dpkg-query -W -f '${Status}\\t${Version}' '" + package + "' 2>/dev/null";
  std::unique_ptr<FILE, PipeClose> p(popen(cmd.c_str(), "r"));
  if (!p) return "";
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  const std::string installed = "install ok installed\t";
  return out.starts_with(installed) ? out.substr(installed.size()) : "";
}

// The value of `field` in a Debian control file ("" if absent).
std::string control_field(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  const std::string key = field + ":";
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) {
      std::string v = line.substr(key.size());
      const size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t\r");
      return b == std::string::npos ? "" : v.substr(b, e - b + 1);
    }
  }
  return "";
}

std::string fetch_hint(const std::string& source, const std::string& language) {
  return "'launch/install-deps.sh --fetch-help " + (source.empty() ? std::string("data/help-packs") : source) + " " +
         language + "'";
}

std::optional<HelpPack> locate(const std::string& language, const std::string& source, std::string* why) {
  check_language(language);
  HelpPack h{language, help_package_name(language), "", ""};
  if (source.empty()) {
    h.dir = std::string(kInstalledHelp) + "/" + help_dir_name(language);
    if (!has_pages(h.dir)) {
      *why = h.package + " is not installed (no " + h.dir + "/text): install it with 'launch/install-deps.sh " +
             h.package + "', or fetch it without installing anything with " + fetch_hint(source, language) +
             " and pass --source data/help-packs";
      return std::nullopt;
    }
    h.version = installed_version(h.package);
    if (h.version.empty()) {
      *why = h.dir + " exists but dpkg does not list " + h.package +
             " as installed, so its version is unknown: reinstall it with 'apt-get install --reinstall " + h.package +
             "', or use a cache made by " + fetch_hint(source, language) + " with --source";
      return std::nullopt;
    }
    return h;
  }
  const std::string tree = source + "/" + h.package;
  h.dir = tree + "/usr/share/libreoffice/help/" + help_dir_name(language);
  if (!has_pages(h.dir)) {
    *why = h.package + " is not in --source '" + source + "' (no " + h.dir + "/text): fetch it with " +
           fetch_hint(source, language);
    return std::nullopt;
  }
  const std::string control = tree + "/DEBIAN/control";
  h.version = control_field(control, "Version");
  if (h.version.empty() || control_field(control, "Package") != h.package) {
    *why = "'" + control + "' is missing or does not name " + h.package +
           " and its Version, so the pack's version is unknown: fetch it again with " + fetch_hint(source, language);
    return std::nullopt;
  }
  return h;
}

}  // namespace

std::string help_package_name(const std::string& language) { return "libreoffice-help-" + language; }

std::string help_dir_name(const std::string& language) {
  std::string d = language;
  const size_t dash = d.find('-');
  if (dash != std::string::npos)
    for (size_t i = dash + 1; i < d.size(); ++i) d[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(d[i])));
  return d;
}

HelpPack find_help_pack(const std::string& language, const std::string& source) {
  std::string why;
  if (auto h = locate(language, source, &why)) return *h;
  throw ConfigError(why);
}

std::optional<HelpPack> find_help_pack_if_present(const std::string& language, const std::string& source) {
  std::string why;
  return locate(language, source, &why);
}

}  // namespace fedtrain
