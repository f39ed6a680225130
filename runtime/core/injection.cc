// Test-only fault injection specs.
#include "runtime/core/injection.h"

#include <sstream>

#include "runtime/core/config_values.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Every kind some subsystem understands, with the extra keys it takes.
const std::map<std::string, std::vector<std::string>> kKinds = {
    {"tamper", {"field", "phase"}},  // flip one bit of a sealed message (secure aggregation)
    {"truncate", {"phase"}},         // send half of a sealed message
    {"reorder", {"phase"}},          // swap the first two chunks of a ring step
    {"replay", {"phase"}},           // resend a message of the previous round
    {"misroute", {}},                // send a message sealed for one leader to another
    {"nan", {}},                     // a NaN in the site's pseudo-gradient
    {"hang", {"rank", "step"}},      // a rank of the site stalls before a gradient all-reduce (watchdog)
};

}  // namespace

std::string Injection::param(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

std::vector<Injection> parse_injections(const std::vector<std::string>& specs) {
  std::vector<Injection> out;
  for (const std::string& spec : specs) {
    const std::string where = "--inject '" + spec + "'";
    Injection in;
    const size_t colon = spec.find(':');
    in.kind = spec.substr(0, colon);
    auto kind = kKinds.find(in.kind);
    if (kind == kKinds.end()) {
      std::string list;
      for (const auto& [k, keys] : kKinds) list += (list.empty() ? "" : ", ") + k;
      throw ConfigError(where + ": unknown kind '" + in.kind + "'; kinds: " + list);
    }
    std::stringstream ss(colon == std::string::npos ? "" : spec.substr(colon + 1));
    std::string item;
    while (std::getline(ss, item, ',')) {
      const size_t eq = item.find('=');
      if (eq == std::string::npos) throw ConfigError(where + ": '" + item + "' is not key=value");
      const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "site") {
        in.site = value;
      } else if (key == "round") {
        in.round = config_values::parse_int(where + " round", value, 1, INT64_MAX);
      } else if (key == "attempt") {
        in.attempt = value == "any" ? -1 : config_values::parse_int(where + " attempt", value, 0, INT64_MAX);
      } else {
        bool known = false;
        for (const auto& k : kind->second) known = known || k == key;
        if (!known) throw ConfigError(where + ": kind '" + in.kind + "' takes no key '" + key + "'");
        in.params[key] = value;
      }
    }
    if (in.site.empty()) throw ConfigError(where + ": name the misbehaving site with site=NAME");
    out.push_back(in);
  }
  return out;
}

std::optional<Injection> find_injection(const std::vector<Injection>& list, const std::string& kind,
                                        const std::string& site, int64_t round, int64_t attempt) {
  for (const auto& in : list)
    if (in.kind == kind && in.matches(site, round, attempt)) return in;
  return std::nullopt;
}

}  // namespace fedtrain
