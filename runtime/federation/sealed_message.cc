// One message between two site leaders, sealed with AES-256-GCM.
#include "runtime/federation/sealed_message.h"

#include <cstring>

#include "runtime/crypto/sha256.h"

namespace fedtrain {
namespace {

constexpr uint32_t kMagic = 0x41535446;  // "FTSA"
constexpr uint16_t kVersion = 1;

template <typename T>
void put(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
template <typename T>
T get(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<T>(v);
}

// The header takes 48 bytes; length is stored in 4 (messages are below 4 GiB).
void encode(const MessageHeader& h, uint8_t* p) {
  put<uint32_t>(p + 0, kMagic);
  put<uint16_t>(p + 4, kVersion);
  put<uint16_t>(p + 6, h.phase);
  put<uint64_t>(p + 8, h.job);
  put<uint64_t>(p + wire_offset::kRound, h.round);
  put<uint32_t>(p + wire_offset::kAttempt, h.attempt);
  put<uint16_t>(p + wire_offset::kSender, h.sender);
  put<uint16_t>(p + wire_offset::kReceiver, h.receiver);
  put<uint32_t>(p + wire_offset::kStep, h.step);
  put<uint32_t>(p + wire_offset::kChunk, h.chunk);
  put<uint32_t>(p + wire_offset::kChunkCount, h.chunk_count);
  put<uint32_t>(p + wire_offset::kLength, static_cast<uint32_t>(h.length));
}

GcmNonce nonce_of(const MessageHeader& h) {
  GcmNonce n{};
  put<uint16_t>(n.data(), h.phase);
  put<uint32_t>(n.data() + 2, h.step);
  put<uint32_t>(n.data() + 6, h.chunk);
  return n;
}

}  // namespace

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kSession: return "session";
    case Phase::kStatus: return "status";
    case Phase::kReduceScatter: return "reduce-scatter";
    case Phase::kAllGather: return "all-gather";
    case Phase::kOutcome: return "outcome";
    case Phase::kTotals: return "totals";
    case Phase::kSettings: return "settings";
  }
  return "?";
}

uint64_t job_tag(const std::string& job_id) {
  const Sha256Digest d = sha256(job_id.data(), job_id.size());
  return get<uint64_t>(d.data());
}

MessageHeader peek_header(const uint8_t* p) {
  MessageHeader h;
  h.phase = get<uint16_t>(p + 6);
  h.job = get<uint64_t>(p + 8);
  h.round = get<uint64_t>(p + wire_offset::kRound);
  h.attempt = get<uint32_t>(p + wire_offset::kAttempt);
  h.sender = get<uint16_t>(p + wire_offset::kSender);
  h.receiver = get<uint16_t>(p + wire_offset::kReceiver);
  h.step = get<uint32_t>(p + wire_offset::kStep);
  h.chunk = get<uint32_t>(p + wire_offset::kChunk);
  h.chunk_count = get<uint32_t>(p + wire_offset::kChunkCount);
  h.length = get<uint32_t>(p + wire_offset::kLength);
  return h;
}

void seal_message(Aes256Gcm& key, const MessageHeader& h, const uint8_t* payload, uint8_t* wire) {
  encode(h, wire);
  const GcmNonce nonce = nonce_of(h);
  std::memcpy(wire + wire_offset::kNonce, nonce.data(), nonce.size());
  GcmTag tag;
  key.seal(nonce, wire, kHeaderBytes, payload, h.length, wire + wire_offset::kPayload, tag);
  std::memcpy(wire + wire_offset::kPayload + h.length, tag.data(), tag.size());
}

namespace {

std::string check_and_open(Aes256Gcm& key, const MessageHeader& expected, const uint8_t* wire, size_t received_bytes,
                           uint8_t* out) {
  const size_t want = wire_bytes(expected.length);
  if (received_bytes != want) {
    return "message is " + (received_bytes == SIZE_MAX ? std::string("longer than its buffer")
                                                        : std::to_string(received_bytes) + " bytes") +
           ", expected " + std::to_string(want) + (received_bytes < want ? " (truncated)" : "");
  }
  uint8_t expect[kHeaderBytes];
  encode(expected, expect);
  if (std::memcmp(expect, wire, kHeaderBytes) != 0) {
    const MessageHeader got = peek_header(wire);
    auto field = [](const char* name, uint64_t g, uint64_t e) {
      return std::string("header field '") + name + "' is " + std::to_string(g) + ", expected " + std::to_string(e);
    };
    if (get<uint32_t>(wire) != kMagic || get<uint16_t>(wire + 4) != kVersion) return "not a fedtrain message (magic/version)";
    if (got.phase != expected.phase) return field("phase", got.phase, expected.phase);
    if (got.job != expected.job) return "header field 'job' names another job";
    if (got.round != expected.round) return field("round", got.round, expected.round);
    if (got.attempt != expected.attempt) return field("attempt", got.attempt, expected.attempt);
    if (got.sender != expected.sender) return field("sender", got.sender, expected.sender);
    if (got.receiver != expected.receiver) return field("receiver", got.receiver, expected.receiver);
    if (got.step != expected.step) return field("step", got.step, expected.step);
    if (got.chunk != expected.chunk) return field("chunk", got.chunk, expected.chunk);
    if (got.chunk_count != expected.chunk_count) return field("chunk count", got.chunk_count, expected.chunk_count);
    return field("length", got.length, expected.length);
  }
  const GcmNonce nonce = nonce_of(expected);
  if (std::memcmp(nonce.data(), wire + wire_offset::kNonce, nonce.size()) != 0) return "nonce is not the expected one";
  GcmTag tag;
  std::memcpy(tag.data(), wire + wire_offset::kPayload + expected.length, tag.size());
  if (!key.open(nonce, expect, kHeaderBytes, wire + wire_offset::kPayload, expected.length, out, tag))
    return "authentication tag does not verify (tampered, or sealed under another key)";
  return "";
}

}  // namespace

std::string open_message(Aes256Gcm& key, const MessageHeader& expected, const uint8_t* wire, size_t received_bytes,
                         uint8_t* out) {
  std::string why = check_and_open(key, expected, wire, received_bytes, out);
  // Aes256Gcm::open has wiped what it wrote; the rest was never written. (An empty payload may
  // come with out == nullptr, which memset must not be given, even for 0 bytes.)
  if (!why.empty() && expected.length > 0) std::memset(out, 0, expected.length);
  return why;
}

}  // namespace fedtrain
