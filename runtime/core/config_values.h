// Typed parsing of config values; every failure names the key and what is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedtrain::config_values {

long long parse_int(const std::string& key, const std::string& value, long long min, long long max);
uint64_t parse_u64(const std::string& key, const std::string& value);
double parse_double(const std::string& key, const std::string& value, double min, double max);
bool parse_bool(const std::string& key, const std::string& value);
std::string parse_choice(const std::string& key, const std::string& value,
                         const std::vector<std::string>& allowed);
std::vector<int> parse_int_list(const std::string& key, const std::string& value, int min, int max);
// A name usable in file names and MPI output: letters, digits, '_', '-', '.'.
std::string parse_name(const std::string& key, const std::string& value);

}  // namespace fedtrain::config_values
