// Strict UTF-8 validation and decoding (RFC 3629, table 3-7 of the Unicode standard).
#include "runtime/data/utf8.h"

#include <cstdint>

namespace fedtrain {
namespace {

bool continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Length of the well-formed sequence at bytes[i], or 0 with `what` set.
//   lead      second byte   length
//   00..7F    -             1
//   C2..DF    80..BF        2
//   E0        A0..BF        3   (80..9F would be overlong)
//   E1..EC    80..BF        3
//   ED        80..9F        3   (A0..BF would be a surrogate)
//   EE..EF    80..BF        3
//   F0        90..BF        4   (80..8F would be overlong)
//   F1..F3    80..BF        4
//   F4        80..8F        4   (90..BF would be above U+10FFFF)
// and every further byte 80..BF.
size_t sequence_length(std::string_view bytes, size_t i, const char*& what) {
  const auto at = [&](size_t k) { return static_cast<uint8_t>(bytes[k]); };
  const uint8_t b0 = at(i);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 < 0xC0) {
    what = "a continuation byte without a lead byte";
    return 0;
  } else if (b0 < 0xC2) {
    what = "an overlong encoding";
    return 0;
  } else if (b0 < 0xE0) {
    len = 2;
  } else if (b0 < 0xF0) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 < 0xF5) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    what = "a byte that never occurs in UTF-8 (0xF5..0xFF)";
    return 0;
  }
  if (i + 1 >= bytes.size() || !continuation(at(i + 1))) {
    what = "a truncated sequence (a lead byte without its continuation bytes)";
    return 0;
  }
  const uint8_t b1 = at(i + 1);
  if (b1 < lo || b1 > hi) {
    what = b0 == 0xED   ? "a UTF-16 surrogate (U+D800..U+DFFF)"
           : b0 == 0xF4 ? "a code point above U+10FFFF"
                        : "an overlong encoding";
    return 0;
  }
  for (size_t k = 2; k < len; ++k) {
    if (i + k >= bytes.size() || !continuation(at(i + k))) {
      what = "a truncated sequence (a lead byte without its continuation bytes)";
      return 0;
    }
  }
  return len;
}

}  // namespace

std::optional<Utf8Problem> find_invalid_utf8(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Fast path over ASCII.
    if (static_cast<uint8_t>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const char* what = "";
    const size_t len = sequence_length(bytes, i, what);
    if (len == 0) return Utf8Problem{i, what};
    i += len;
  }
  return std::nullopt;
}

char32_t next_code_point(std::string_view bytes, size_t& i) {
  const char* what = "";
  const size_t len = sequence_length(bytes, i, what);
  if (len == 0) {
    ++i;
    return U'\uFFFD';
  }
  const auto at = [&](size_t k) { return static_cast<uint8_t>(bytes[k]); };
  char32_t c = len == 1 ? at(i) : len == 2 ? at(i) & 0x1F : len == 3 ? at(i) & 0x0F : at(i) & 0x07;
  for (size_t k = 1; k < len; ++k) c = (c << 6) | (at(i + k) & 0x3F);
  i += len;
  return c;
}

}  // namespace fedtrain
