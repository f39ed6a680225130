// Test-only fault injection specs.
#include "runtime/core/inject.h"

#include "runtime/core/config_values.h"
#include "runtime/core/error.h"

namespace fedtrain {

std::string Injection::get(const std::string& key, const std::string& fallback) const {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

long long Injection::get_int(const std::string& key, long long fallback) const {
  auto it = params.find(key);
  if (it == params.end()) return fallback;
  return config_values::parse_int("--inject " + kind + ":" + key, it->second, -(1LL << 62), 1LL << 62);
}

std::vector<Injection> injections_of(const std::vector<std::string>& specs, const std::string& kind) {
  std::vector<Injection> out;
  for (const std::string& spec : specs) {
    const size_t colon = spec.find(':');
    if (spec.substr(0, colon) != kind) continue;
    Injection inj;
    inj.kind = kind;
    const std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t comma = rest.find(',', pos);
      if (comma == std::string::npos) comma = rest.size();
      const std::string item = rest.substr(pos, comma - pos);
      const size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        throw ConfigError("--inject '" + spec + "': '" + item + "' is not key=value");
      inj.params[item.substr(0, eq)] = item.substr(eq + 1);
      pos = comma + 1;
    }
    out.push_back(std::move(inj));
  }
  return out;
}

}  // namespace fedtrain
