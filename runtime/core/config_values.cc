// Typed parsing of config values.
#include "runtime/core/config_values.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "runtime/core/error.h"

namespace fedtrain::config_values {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& allowed) {
  throw ConfigError("config key '" + key + "': '" + value + "' is not valid; expected " + allowed);
}

}  // namespace

long long parse_int(const std::string& key, const std::string& value, long long min, long long max) {
  std::string v = trim(value);
  std::ostringstream allowed;
  allowed << "an integer from " << min << " to " << max;
  if (v.empty()) bad(key, value, allowed.str());
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || x < min || x > max) bad(key, value, allowed.str());
  return x;
}

uint64_t parse_u64(const std::string& key, const std::string& value) {
  std::string v = trim(value);
  char* end = nullptr;
  errno = 0;
  if (v.empty() || v[0] == '-') bad(key, value, "a non-negative integer");
  unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') bad(key, value, "a non-negative integer below 2^64");
  return x;
}

double parse_double(const std::string& key, const std::string& value, double min, double max) {
  std::string v = trim(value);
  std::ostringstream allowed;
  allowed << "a number from " << min << " to " << max;
  if (v.empty()) bad(key, value, allowed.str());
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(x) || x < min || x > max) bad(key, value, allowed.str());
  return x;
}

bool parse_bool(const std::string& key, const std::string& value) {
  std::string v = trim(value);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  bad(key, value, "true or false");
}

std::string parse_choice(const std::string& key, const std::string& value,
                         const std::vector<std::string>& allowed) {
  std::string v = trim(value);
  for (const auto& a : allowed)
    if (v == a) return v;
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i) list += (i ? ", " : "") + allowed[i];
  bad(key, value, "one of " + list);
}

std::vector<int> parse_int_list(const std::string& key, const std::string& value, int min, int max) {
  std::vector<int> out;
  std::stringstream ss(value);
  std::string item;
  std::ostringstream allowed;
  allowed << "a comma-separated list of integers from " << min << " to " << max;
  while (std::getline(ss, item, ',')) {
    std::string t = trim(item);
    if (t.empty()) bad(key, value, allowed.str());
    char* end = nullptr;
    errno = 0;
    long x = std::strtol(t.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max) bad(key, value, allowed.str());
    out.push_back(static_cast<int>(x));
  }
  if (out.empty()) bad(key, value, allowed.str());
  return out;
}

std::string parse_name(const std::string& key, const std::string& value) {
  std::string v = trim(value);
  bool ok = !v.empty() && v.size() <= 64 && v[0] != '.' && v[0] != '-';
  for (char c : v)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  if (!ok) bad(key, value, "1 to 64 letters, digits, '_', '-' or '.', not starting with '.' or '-'");
  return v;
}

}  // namespace fedtrain::config_values
