// Test-only fault injection: "--inject KIND:key=value,..." on the command line (repeatable).
//
// Every subsystem that can be made to fail on purpose reads the kinds it
// knows from the parsed list; docs/testing.md lists them. A spec that does
// not parse, or names an unknown kind or key, is a ConfigError (exit 2).
// Common keys: site (the site whose leader misbehaves), round, attempt
// (default 0: a retried attempt then succeeds; "any" for every attempt).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedtrain {

struct Injection {
  std::string kind;
  std::string site;
  int64_t round = -1;    // -1: any round
  int64_t attempt = 0;   // -1: any attempt
  std::map<std::string, std::string> params;  // other keys, e.g. field=tag

  bool matches(const std::string& site_name, int64_t r, int64_t a) const {
    return site == site_name && (round < 0 || round == r) && (attempt < 0 || attempt == a);
  }
  std::string param(const std::string& key, const std::string& fallback) const;
};

// Parses every spec; throws ConfigError for malformed specs or unknown kinds.
std::vector<Injection> parse_injections(const std::vector<std::string>& specs);

// The first injection of `kind` matching (site, round, attempt), if any.
std::optional<Injection> find_injection(const std::vector<Injection>& list, const std::string& kind,
                                        const std::string& site, int64_t round, int64_t attempt);

}  // namespace fedtrain
