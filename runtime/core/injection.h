// Test-only fault injection: "--inject KIND:key=value,..." on the command line (repeatable).
//
// Every subsystem that can be made to fail on purpose reads the kinds it
// knows; docs/testing.md lists them. At start-up parse_injections() checks
// every spec (a malformed one, an unknown kind or key is a ConfigError, exit
// 2). Common keys: site (whose leader or ranks misbehave), round, attempt
// (default 0: a retried exchange then succeeds; "any" for every attempt).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedtrain {

struct Injection {
  std::string kind;
  std::map<std::string, std::string> params;  // every key=value of the spec
  // Typed views of the common keys.
  std::string site;
  int64_t round = -1;   // -1: any round
  int64_t attempt = 0;  // -1: any attempt

  bool matches(const std::string& site_name, int64_t r, int64_t a) const {
    return site == site_name && (round < 0 || round == r) && (attempt < 0 || attempt == a);
  }
  // The value of `key`, or `fallback` when the spec does not set it.
  std::string get(const std::string& key, const std::string& fallback = "") const;
  // The integer value of `key`; throws ConfigError when it is not one.
  long long get_int(const std::string& key, long long fallback) const;
};

// Every spec, checked: throws ConfigError for malformed specs, unknown kinds or keys.
std::vector<Injection> parse_injections(const std::vector<std::string>& specs);

// The specs of one kind, parsed without the kind's key checks (each subsystem
// checks its own); throws ConfigError on a spec that is not key=value pairs.
std::vector<Injection> injections_of(const std::vector<std::string>& specs, const std::string& kind);

// The first injection of `kind` matching (site, round, attempt), if any.
std::optional<Injection> find_injection(const std::vector<Injection>& list, const std::string& kind,
                                        const std::string& site, int64_t round, int64_t attempt);

}  // namespace fedtrain
