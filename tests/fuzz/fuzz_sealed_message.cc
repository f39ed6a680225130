// Fuzz target: a message from another site leader, parsed and opened, open_message
// (runtime/federation/sealed_message.cc).
//
// Input: one flags byte, then the message as received. The receiver expects a fixed header
// (kExpected below) whose payload length is the one the received size implies (flags bit 0 clear)
// or a fixed 64 bytes (bit 0 set); bit 1 opens in place (out = wire + payload offset, as the ring
// does). The key is fixed, so a seed sealed by make_seeds opens. Checked besides "no crash":
// a failed open leaves the output all zeros, and a message that opens is exactly the one that
// seal_message makes of the expected header and the opened payload.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/crypto/aes.h"
#include "runtime/federation/sealed_message.h"
#include "tests/fuzz/fuzz_seal_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  std::vector<uint8_t> wire(data + 1, data + size);
  static Aes256Gcm key(fuzz::seal_key());
  MessageHeader expected = fuzz::expected_header();
  if (flags & 1) expected.length = 64;
  else expected.length = wire.size() >= kMessageOverhead ? wire.size() - kMessageOverhead : 0;
  const bool in_place = (flags & 2) != 0 && wire.size() >= wire_bytes(expected.length);

  std::vector<uint8_t> own(expected.length, 0xA5);
  uint8_t* out = in_place ? wire.data() + wire_offset::kPayload : own.data();
  const std::vector<uint8_t> received = wire;
  const std::string why = open_message(key, expected, wire.data(), wire.size(), out);
  if (!why.empty()) {
    if (!std::all_of(out, out + expected.length, [](uint8_t b) { return b == 0; })) {
      std::fprintf(stderr, "fuzz_sealed_message: open failed (%s) but left bytes in the output\n", why.c_str());
      std::abort();
    }
    return 0;
  }
  std::vector<uint8_t> resealed(wire_bytes(expected.length));
  seal_message(key, expected, out, resealed.data());
  if (resealed != received) {
    std::fprintf(stderr, "fuzz_sealed_message: a message opened that is not the sealing of its header and payload\n");
    std::abort();
  }
  return 0;
}
