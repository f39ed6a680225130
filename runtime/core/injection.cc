// Test-only fault injection specs.
#include "runtime/core/injection.h"

#include <climits>
#include <sstream>

#include "runtime/core/config_values.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Every kind some subsystem understands, with the keys it takes beside site, round, attempt.
const std::map<std::string, std::vector<std::string>> kKinds = {
    {"tamper", {"field", "phase"}},  // flip one bit of a sealed message (secure aggregation)
    {"truncate", {"phase"}},         // send half of a sealed message
    {"reorder", {"phase"}},          // swap the first two chunks of a ring step
    {"replay", {"phase"}},           // resend a message of the previous round
    {"misroute", {}},                // send a message sealed for one leader to another
    {"nan", {}},                     // a NaN in the site's pseudo-gradient
    {"crash", {"at"}},               // SIGKILL a rank at a point of the checkpoint path
    {"signal", {"rank", "sig"}},     // raise SIGUSR1/SIGTERM in one rank
    {"await_rejoin", {}},            // a leader holds at the round's boundary until no site is absent or unready
    {"hang", {"rank", "step"}},      // a rank of the site stalls before a gradient all-reduce (watchdog)
};

Injection parse_one(const std::string& spec) {
  const std::string where = "--inject '" + spec + "'";
  Injection in;
  const size_t colon = spec.find(':');
  in.kind = spec.substr(0, colon);
  std::stringstream ss(colon == std::string::npos ? "" : spec.substr(colon + 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError(where + ": '" + item + "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    in.params[key] = value;
    if (key == "site") in.site = value;
    if (key == "round") in.round = config_values::parse_int(where + " round", value, 1, INT64_MAX);
    if (key == "attempt")
      in.attempt = value == "any" ? -1 : config_values::parse_int(where + " attempt", value, 0, INT64_MAX);
  }
  return in;
}

}  // namespace

std::string Injection::get(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

long long Injection::get_int(const std::string& key, long long fallback) const {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  return config_values::parse_int("--inject " + kind + ":" + key, it->second, -(1LL << 62), 1LL << 62);
}

std::vector<Injection> parse_injections(const std::vector<std::string>& specs) {
  std::vector<Injection> out;
  for (const std::string& spec : specs) {
    const std::string where = "--inject '" + spec + "'";
    Injection in = parse_one(spec);
    auto kind = kKinds.find(in.kind);
    if (kind == kKinds.end()) {
      std::string list;
      for (const auto& [k, keys] : kKinds) list += (list.empty() ? "" : ", ") + k;
      throw ConfigError(where + ": unknown kind '" + in.kind + "'; kinds: " + list);
    }
    for (const auto& [key, value] : in.params) {
      bool known = key == "site" || key == "round" || key == "attempt";
      for (const auto& k : kind->second) known = known || k == key;
      if (!known) throw ConfigError(where + ": kind '" + in.kind + "' takes no key '" + key + "'");
    }
    if (in.site.empty()) throw ConfigError(where + ": name the misbehaving site with site=NAME");
    out.push_back(in);
  }
  return out;
}

std::vector<Injection> injections_of(const std::vector<std::string>& specs, const std::string& kind) {
  std::vector<Injection> out;
  for (const std::string& spec : specs)
    if (spec.substr(0, spec.find(':')) == kind) out.push_back(parse_one(spec));
  return out;
}

std::optional<Injection> find_injection(const std::vector<Injection>& list, const std::string& kind,
                                        const std::string& site, int64_t round, int64_t attempt) {
  for (const auto& in : list)
    if (in.kind == kind && in.matches(site, round, attempt)) return in;
  return std::nullopt;
}

}  // namespace fedtrain
