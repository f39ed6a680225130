// One message between two site leaders, sealed with AES-256-GCM, with its header as associated data.
//
// Wire format (little-endian), 76 bytes of overhead per message:
//   header (48 bytes)  magic "FTSA", version, phase, job (first 8 bytes of
//                      SHA-256(job id)), round, attempt, sender, receiver,
//                      step, chunk index, chunk count, payload length
//   nonce  (12 bytes)  phase (2) | step (4) | chunk (4) | 0 (2): unique per message under one key
//   ciphertext (length bytes), tag (16 bytes)
//
// The receiver builds the header it expects, compares every field with the
// one received, checks the nonce and the length, then opens with the
// *expected* header as associated data. A message from another job, round,
// attempt, sender or step, a chunk out of place, a truncated message or a
// flipped bit anywhere is rejected, with the reason, before any byte of its
// payload is used.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/crypto/aes.h"

namespace fedtrain {

enum class Phase : uint16_t {
  kSession = 1,        // start-up: session contributions (not sealed)
  kStatus = 2,         // participation status
  kReduceScatter = 3,  // ring, first half
  kAllGather = 4,      // ring, second half
  kOutcome = 5,        // each leader's outcome and the hash of its new global model
  kTotals = 6,         // round totals for the report
  kSettings = 7,       // start-up: digest of the settings every site must share (not sealed)
};
const char* phase_name(Phase p);

struct MessageHeader {
  uint16_t phase = 0;
  uint64_t job = 0;
  uint64_t round = 0;
  uint32_t attempt = 0;
  uint16_t sender = 0;
  uint16_t receiver = 0;
  uint32_t step = 0;
  uint32_t chunk = 0;
  uint32_t chunk_count = 0;
  uint64_t length = 0;  // payload bytes
};

inline constexpr size_t kHeaderBytes = 48;
inline constexpr size_t kMessageOverhead = kHeaderBytes + kGcmNonceBytes + kGcmTagBytes;
inline size_t wire_bytes(size_t payload_bytes) { return payload_bytes + kMessageOverhead; }

// First 8 bytes of SHA-256(job_id), as the header carries it.
uint64_t job_tag(const std::string& job_id);

// wire (wire_bytes(h.length)) = header | nonce | seal(payload) | tag
void seal_message(Aes256Gcm& key, const MessageHeader& h, const uint8_t* payload, uint8_t* wire);
// Opens `wire` (received_bytes long) into out (expected.length bytes; may be
// wire + wire_offset::kPayload, opening in place). Returns "" on success, else
// what failed (e.g. "header field 'round' is 3, expected 4"); out is then all
// zeros, whatever failed: nothing unauthenticated is left in it.
std::string open_message(Aes256Gcm& key, const MessageHeader& expected, const uint8_t* wire, size_t received_bytes,
                         uint8_t* out);

// Byte offsets on the wire, for tests and fault injection.
namespace wire_offset {
inline constexpr size_t kRound = 16, kAttempt = 24, kSender = 28, kReceiver = 30, kStep = 32, kChunk = 36;
inline constexpr size_t kChunkCount = 40, kLength = 44, kNonce = kHeaderBytes, kPayload = kHeaderBytes + kGcmNonceBytes;
}  // namespace wire_offset
// Reads the header of a message on the wire (without checking it).
MessageHeader peek_header(const uint8_t* wire);

}  // namespace fedtrain
