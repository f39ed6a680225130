// The fixed key and expected header of fuzz_sealed_message, shared with make_seeds (which seals its seeds).
#pragma once

#include "runtime/crypto/key_schedule.h"
#include "runtime/federation/sealed_message.h"

namespace fedtrain::fuzz {

inline Key256 seal_key() {
  Key256 k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(0x40 + i);
  return k;
}

// A reduce-scatter chunk of round 7, attempt 1, from leader 0 to leader 1; the length is set per input.
inline MessageHeader expected_header() {
  MessageHeader h;
  h.phase = static_cast<uint16_t>(Phase::kReduceScatter);
  h.job = job_tag("fuzz");
  h.round = 7;
  h.attempt = 1;
  h.sender = 0;
  h.receiver = 1;
  h.step = 2;
  h.chunk = 0;
  h.chunk_count = 1;
  return h;
}

}  // namespace fedtrain::fuzz
