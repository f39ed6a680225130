// Strict UTF-8 (RFC 3629): where a byte string first stops being well-formed, and decoding well-formed text.
//
// Well-formed means every sequence is the shortest encoding of one code point in
// U+0000..U+10FFFF that is not a UTF-16 surrogate (U+D800..U+DFFF). So these are
// rejected: a continuation byte (0x80..0xBF) without a lead byte, the lead bytes
// 0xC0, 0xC1 and 0xF5..0xFF, overlong forms (E0 80..9F, F0 80..8F), surrogates
// (ED A0..BF), code points above U+10FFFF (F4 90..BF), and a lead byte that is
// not followed by enough continuation bytes (a truncated sequence).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace fedtrain {

struct Utf8Problem {
  size_t offset = 0;        // byte offset (from 0) of the first byte of the bad sequence
  const char* what = "";    // e.g. "an overlong encoding"
};

// The first problem in `bytes`, or nullopt when all of it is well-formed UTF-8.
std::optional<Utf8Problem> find_invalid_utf8(std::string_view bytes);

// The code point that starts at bytes[i] in well-formed UTF-8, and i moved past it.
// On malformed input it returns U+FFFD and moves one byte (never reads past the end).
char32_t next_code_point(std::string_view bytes, size_t& i);

}  // namespace fedtrain
