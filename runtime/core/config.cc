// Run configuration: the INI file and command-line reader, against the key table of config_keys.h.
#include "runtime/core/config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fedtrain/features.h"
#include "runtime/core/config_checks.h"
#include "runtime/core/config_keys.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

using namespace config_keys;

// A value read from the file or the command line, in the order seen. `unset`: "--KEY=" on the
// command line, which takes back every earlier setting of KEY (its default applies again).
struct Setting {
  std::string key, value, where;
  bool unset = false;
};

// "--KEY=" with nothing after '=' stands for this value on its way through Boost, which refuses
// an empty one: no string from argv can hold it (it has a NUL).
const std::string kUnsetValue("\0unset", 6);

std::string absolute_path(const std::string& value, const std::filesystem::path& base) {
  if (value.empty() || std::filesystem::path(value).is_absolute()) return value;
  return (base / value).lexically_normal().string();
}

// The folder relative paths are taken against: the config file's (symbolic links resolved), or the
// working directory.
std::filesystem::path base_folder(const std::string& config_path) {
  try {
    if (config_path.empty()) return std::filesystem::current_path();
    return std::filesystem::weakly_canonical(std::filesystem::absolute(config_path)).parent_path();
  } catch (const std::filesystem::filesystem_error& e) {
    throw ConfigError(std::string("cannot resolve relative paths: ") + e.what() +
                      "; run from an existing working directory, or give absolute paths");
  }
}

class Collector {
 public:
  void add(const std::string& key, const std::string& value, const std::string& where, bool unset = false) {
    std::string name, sub;
    if (find_key(key) == nullptr) {
      if (!split_site_key(key, &name, &sub)) unknown_key(key, where);
      if (find_site_key(sub) == nullptr) {
        std::string list;
        for (const SiteKey& s : site_keys()) list += std::string(list.empty() ? "" : ", ") + s.name;
        throw ConfigError("unknown config key '" + key + "' " + where + "; a [site." + name + "] section takes " + list);
      }
      config_values::parse_name("site name in '" + key + "'", name);
      if (!unset && std::find(site_order_.begin(), site_order_.end(), name) == site_order_.end())
        site_order_.push_back(name);
    }
    settings_.push_back({key, value, where, unset});
  }
  const std::vector<Setting>& settings() const { return settings_; }
  const std::vector<std::string>& site_order() const { return site_order_; }

 private:
  std::vector<Setting> settings_;
  std::vector<std::string> site_order_;
};

std::string join_values(const std::vector<std::string>& values) {
  std::string v;
  for (const auto& s : values) v += (v.empty() ? "" : ",") + s;
  return v;
}

// A value from the command line, as the INI file would give it: the resolved config
// (Config::resolved_text, which checkpoints store and 'fedtrain generate' reads back) must load
// to the same settings, so what INI cannot hold is refused, not written: a line break would
// start a line of its own (a forged key or section), a '#' a comment. Outer blanks are trimmed,
// as the file's reader trims them.
std::string cli_value(const std::string& key, const std::string& value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f || c == '#')
      throw ConfigError("--" + key + " on the command line: its value holds " +
                        (c == '#' ? std::string("a '#'") : "a line break or another control character") +
                        ", which the INI form of the config cannot hold (it is printed by 'fedtrain config' and "
                        "stored in every checkpoint); give a value without it");
  }
  const size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
}

// The file's settings, then the command line's, in order; an unset takes back the settings of its
// key before it.
std::vector<const Setting*> merged_settings(const Collector& from_file, const Collector& from_cli) {
  std::vector<const Setting*> merged;
  for (const Collector* from : {&from_file, &from_cli}) {
    for (const Setting& s : from->settings()) {
      if (s.unset)
        std::erase_if(merged, [&](const Setting* m) { return m->key == s.key; });
      else
        merged.push_back(&s);
    }
  }
  return merged;
}

void refuse_security_overrides(const Collector& from_cli) {
  for (const Setting& s : from_cli.settings()) {
    if (!is_security_key(s.key)) continue;
    throw ConfigError("--" + s.key + " on the command line: security settings (" + security_keys_text() +
                      ") are read from the config file only, so that a "
                      "launcher or wrapper cannot change them unnoticed; edit the config file, or pass "
                      "--allow-security-overrides to allow it for this run");
  }
}

}  // namespace

bool Config::ledger_configured() const {
  for (const auto& s : sites)
    if (s.signing_key.empty() && s.signing_key_file.empty()) return false;
  return !sites.empty();
}

int Config::site_index(const std::string& name) const {
  for (size_t i = 0; i < sites.size(); ++i)
    if (sites[i].name == name) return static_cast<int>(i);
  return -1;
}

bool Config::checkpoints_configured() const {
  if (sites.empty()) return false;
  for (const auto& s : sites)
    if (s.checkpoint_dir.empty()) return false;
  return true;
}

bool Config::leaders_addressed() const {
  for (const auto& s : sites)
    if (s.leader.empty()) return false;
  return !sites.empty();
}

std::optional<int> Config::world_size() const {
  int n = 0;
  for (const auto& s : sites) {
    if (s.ranks <= 0) return std::nullopt;
    n += s.ranks;
  }
  return n;
}

namespace {

// The command line: the options of its own (--config, --site, --resume, --inject,
// --allow-security-overrides), and every --section.key=value, checked and collected.
struct CommandLine {
  std::string config_path, process_site;
  std::vector<std::string> inject;
  bool resume = false, allow_security_overrides = false;
  Collector from_cli;
};

po::options_description key_options() {
  po::options_description keys;
  for (const Key& k : config_keys::keys()) keys.add_options()(k.key, po::value<std::vector<std::string>>());
  return keys;
}

CommandLine parse_command_line(const std::vector<std::string>& args, const std::string& env_site,
                               const po::options_description& keys, const std::filesystem::path& cwd) {
  po::options_description cli;
  cli.add_options()("config", po::value<std::vector<std::string>>())("site", po::value<std::vector<std::string>>())(
      "resume", po::bool_switch())("allow-security-overrides", po::bool_switch());
#if FEDTRAIN_WITH_FAULT_INJECTION
  cli.add_options()("inject", po::value<std::vector<std::string>>());
#endif
  cli.add(keys);

  po::parsed_options cmdline(nullptr);
  try {
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    std::vector<std::string> marked = args;
    for (auto& a : marked)
      if (a.size() > 3 && a.rfind("--", 0) == 0 && a.back() == '=' && a.find('=') == a.size() - 1) a += kUnsetValue;
    cmdline = po::command_line_parser(marked).options(cli).style(style).allow_unregistered().run();
  } catch (const po::error& e) {
    throw ConfigError(std::string("command line: ") + e.what());
  }

  CommandLine cl;
  cl.process_site = env_site;
  for (const auto& opt : cmdline.options) {
    if (opt.position_key >= 0 || opt.string_key.empty()) {
      throw ConfigError("unexpected argument '" + join_values(opt.value) +
                        "'; keys are given as --section.key=value");
    }
    const bool unset = opt.value.size() == 1 && opt.value[0] == kUnsetValue;
    if (unset && (opt.string_key == "config" || opt.string_key == "site" || opt.string_key == "inject"))
      throw ConfigError("--" + opt.string_key + "= needs a value after '='");
    if (opt.string_key == "config") {
      if (!cl.config_path.empty()) throw ConfigError("--config given twice");
      cl.config_path = join_values(opt.value);
      continue;
    }
    if (opt.string_key == "site") {
      cl.process_site = join_values(opt.value);
      continue;
    }
    if (opt.string_key == "inject") {
      if (!FEDTRAIN_WITH_FAULT_INJECTION)
        throw ConfigError("--inject: fault injection is test-only and not compiled into this build (it exists in "
                          "test builds, cmake -DFEDTRAIN_BUILD_TESTS=ON, which must never be deployed)");
      cl.inject.insert(cl.inject.end(), opt.value.begin(), opt.value.end());
      continue;
    }
    if (opt.string_key == "allow-security-overrides") {
      if (!opt.value.empty() && !(opt.value.size() == 1 && opt.value[0].empty()))
        throw ConfigError("--allow-security-overrides takes no value");
      cl.allow_security_overrides = true;
      continue;
    }
    if (opt.string_key == "resume") {
      if (!opt.value.empty() && !(opt.value.size() == 1 && opt.value[0].empty()))
        throw ConfigError("--resume takes no value");
      cl.resume = true;
      continue;
    }
    if (opt.value.size() != 1) {
      throw ConfigError("command line: key '" + opt.string_key + "' needs one value, given as --" +
                        opt.string_key + "=VALUE");
    }
    if (unset) {
      cl.from_cli.add(opt.string_key, "", "on the command line", /*unset=*/true);
      continue;
    }
    const std::string checked = cli_value(opt.string_key, opt.value[0]);
    const std::string value = is_path_key(opt.string_key) ? absolute_path(checked, cwd) : checked;
    cl.from_cli.add(opt.string_key, value, "on the command line");
  }
  return cl;
}

// The config file's settings, relative paths taken beside it; none without a file.
Collector read_config_file(const std::string& config_path, const po::options_description& keys) {
  Collector from_file;
  if (config_path.empty()) return from_file;
  std::ifstream in(config_path);
  if (!in) throw ConfigError("cannot read config file '" + config_path + "': check the path given to --config");
  std::stringstream buf;
  buf << in.rdbuf();
  std::istringstream text(buf.str());
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::parse_config_file(text, keys, /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    throw ConfigError("config file '" + config_path + "': " + e.what());
  }
  std::map<std::string, int> seen;
  const std::filesystem::path folder = base_folder(config_path);
  for (const auto& opt : parsed.options) {
    if (++seen[opt.string_key] > 1)
      throw ConfigError("config file '" + config_path + "': key '" + opt.string_key + "' is set more than once");
    std::string value = join_values(opt.value);
    if (is_path_key(opt.string_key)) value = absolute_path(value, folder);
    from_file.add(opt.string_key, value, "in " + config_path);
  }
  return from_file;
}

// Defaults, then the file, then the command line, into a Config (the last setting of a key wins);
// `values` gets each key's text.
Config settle(const Collector& from_file, const Collector& from_cli, const std::filesystem::path& cwd,
              std::map<std::string, std::string>& values) {
  for (const Key& k : keys()) values[k.key] = k.default_value;
  std::vector<std::string> site_order = from_file.site_order();
  for (const auto& name : from_cli.site_order())
    if (std::find(site_order.begin(), site_order.end(), name) == site_order.end()) site_order.push_back(name);

  Config c;
  for (const auto& name : site_order) {
    SiteConfig site;
    site.name = name;
    c.sites.push_back(site);
  }
  for (const Setting* s : merged_settings(from_file, from_cli)) {
    std::string name, sub;
    if (find_key(s->key) != nullptr) {
      values[s->key] = s->value;
    } else if (split_site_key(s->key, &name, &sub)) {
      find_site_key(sub)->apply(c.sites[c.site_index(name)], s->key, s->value);
    }
  }
  for (const Key& k : keys()) k.apply(c, k.key, values[k.key]);

  if (c.metrics_file.empty()) c.metrics_file = absolute_path("runs/" + c.job_id + "/metrics.jsonl", cwd);
  values["run.metrics_file"] = c.metrics_file;
  c.inner.total_steps = static_cast<int64_t>(c.rounds) * c.local_steps;
  if (c.inner.schedule == InnerSchedule::kCosine && c.inner.min_lr > c.inner.lr)
    throw ConfigError("inner.min_lr = " + std::to_string(c.inner.min_lr) + " is above inner.lr = " +
                      std::to_string(c.inner.lr) + ": the cosine schedule decays from inner.lr down to inner.min_lr");
  return c;
}

// The files each site writes, where the config leaves them to their defaults.
void fill_site_defaults(Config& c, const std::filesystem::path& cwd) {
  for (auto& s : c.sites) {
    if (s.egress_log.empty()) s.egress_log = absolute_path("runs/" + c.job_id + "/egress-" + s.name + ".jsonl", cwd);
    if (c.ledger_configured() && s.ledger.empty())
      s.ledger = s.checkpoint_dir.empty() ? absolute_path("runs/" + c.job_id + "/ledger-" + s.name + ".jsonl", cwd)
                                          : absolute_path("ledger.jsonl", s.checkpoint_dir);
  }
}

// The resolved configuration, as an INI file that reproduces this run.
std::string resolved_text(const Config& c, const std::map<std::string, std::string>& values) {
  std::ostringstream out;
  std::string section;
  for (const Key& k : keys()) {
    std::string key = k.key;
    std::string sec = key.substr(0, key.find('.'));
    if (sec != section) out << (section.empty() ? "" : "\n") << "[" << sec << "]\n", section = sec;
    out << key.substr(key.find('.') + 1) << " = " << values.at(key) << "\n";
  }
  for (const auto& s : c.sites) {
    out << "\n[site." << s.name << "]\n";
    if (s.ranks > 0) out << "ranks = " << s.ranks << "\n";
    out << "data = " << s.data << "\n";
    if (!s.val.empty()) out << "val = " << s.val << "\n";
    if (!s.public_key.empty()) out << "public_key = " << s.public_key << "\n";
    if (!s.public_key_file.empty()) out << "public_key_file = " << s.public_key_file << "\n";
    if (!s.secret_key.empty()) out << "secret_key = " << s.secret_key << "\n";
    if (!s.signing_key.empty()) out << "signing_key = " << s.signing_key << "\n";
    if (!s.signing_key_file.empty()) out << "signing_key_file = " << s.signing_key_file << "\n";
    if (!s.signing_secret_key.empty()) out << "signing_secret_key = " << s.signing_secret_key << "\n";
    if (!s.ledger.empty()) out << "ledger = " << s.ledger << "\n";
    out << "egress_log = " << s.egress_log << "\n";
    if (!s.checkpoint_dir.empty()) out << "checkpoint_dir = " << s.checkpoint_dir << "\n";
    if (!s.leader.empty()) out << "leader = " << s.leader << "\n";
    if (!s.listen.empty()) out << "listen = " << s.listen << "\n";
  }
  return out.str();
}

}  // namespace

Config load_config(const std::vector<std::string>& args, const std::string& env_site) {
  const po::options_description keys = key_options();
  const std::filesystem::path cwd = base_folder("");
  const CommandLine cl = parse_command_line(args, env_site, keys, cwd);
  if (!cl.allow_security_overrides) refuse_security_overrides(cl.from_cli);
  const Collector from_file = read_config_file(cl.config_path, keys);
  std::map<std::string, std::string> values;
  Config c = settle(from_file, cl.from_cli, cwd, values);
  c.config_path = cl.config_path;
  c.process_site = cl.process_site;
  c.inject = cl.inject;
  c.resume = cl.resume;
  check_config(c);
  fill_site_defaults(c, cwd);
  c.resolved_text = resolved_text(c, values);
  return c;
}

std::string config_help() {
  std::ostringstream out;
  std::string section;
  for (const Key& k : keys()) {
    std::string key = k.key;
    std::string sec = key.substr(0, key.find('.'));
    if (sec != section) out << "\n[" << sec << "]\n", section = sec;
    std::string head = "  --" + key + "=" + (k.default_value[0] ? k.default_value : "\"\"");
    out << head << std::string(head.size() < 34 ? 34 - head.size() : 1, ' ') << k.help << "\n";
  }
  out << "\n[site.NAME]   one section per site, in the order world ranks are assigned\n";
  for (const SiteKey& s : site_keys()) {
    std::string head = std::string("  --site.NAME.") + s.name + "=";
    out << head << std::string(head.size() < 34 ? 34 - head.size() : 1, ' ') << s.help << "\n";
  }
  return out.str();
}

}  // namespace fedtrain
