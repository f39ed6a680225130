// A strict reader of one line of a fixed-format JSON Lines file (egress log, ledger): exactly the bytes the writer prints.
//
// The writers print their keys in one order, numbers in plain decimal and
// strings from small alphabets that need no escaping, so a reader that
// accepts only those bytes needs no JSON library, and a line it accepts is
// the one the writer would print for the same fields (what a hash chain or a
// signature over the bytes relies on).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fedtrain::line_format {

inline bool is_phase_char(char c) { return (c >= 'a' && c <= 'z') || c == '-'; }
// The characters of a site or job name (config_values::parse_name).
inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}
inline bool is_hex_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
inline bool is_base64_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

inline bool all_of(std::string_view s, bool (*ok)(char)) {
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

// Reads a line left to right; every method consumes only on success.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  size_t byte() const { return pos_ + 1; }  // 1-based, for messages
  bool done() const { return pos_ == s_.size(); }
  bool literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // A decimal number as the writer prints it: digits, no leading zero, below 2^64.
  bool number(uint64_t& v) {
    size_t end = pos_;
    while (end < s_.size() && s_[end] >= '0' && s_[end] <= '9') ++end;
    const size_t digits = end - pos_;
    if (digits == 0 || digits > 20 || (digits > 1 && s_[pos_] == '0')) return false;
    uint64_t x = 0;
    for (size_t i = pos_; i < end; ++i) {
      const uint64_t d = static_cast<uint64_t>(s_[i] - '0');
      if (x > (UINT64_MAX - d) / 10) return false;
      x = x * 10 + d;
    }
    v = x;
    pos_ = end;
    return true;
  }
  // min_chars to max_chars characters accepted by ok(), up to the next '"'.
  bool token(std::string& out, bool (*ok)(char), size_t min_chars, size_t max_chars) {
    const size_t end = s_.find('"', pos_);
    if (end == std::string_view::npos) return false;
    const std::string_view t = s_.substr(pos_, end - pos_);
    if (t.size() < min_chars || t.size() > max_chars || !all_of(t, ok)) return false;
    out.assign(t);
    pos_ = end;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace fedtrain::line_format
