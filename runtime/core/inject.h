// Test-only fault injection: "--inject KIND:key=value,..." specs, parsed for the subsystem that knows KIND.
//
// Production runs give none. Each subsystem asks for the kinds it implements
// (see docs/testing.md for the list), e.g. the checkpointer reads
//   --inject crash:site=es,round=3,at=checkpoint_write
// Specs of other kinds are left to their own subsystems.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace fedtrain {

struct Injection {
  std::string kind;
  std::map<std::string, std::string> params;

  // The value of `key`, or `fallback` when the spec does not set it.
  std::string get(const std::string& key, const std::string& fallback = "") const;
  // The integer value of `key`; throws ConfigError when it is not one.
  long long get_int(const std::string& key, long long fallback) const;
};

// The specs of `kind` among `specs`; throws ConfigError on a malformed spec of that kind.
std::vector<Injection> injections_of(const std::vector<std::string>& specs, const std::string& kind);

}  // namespace fedtrain
