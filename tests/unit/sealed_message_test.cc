// Sealed messages: round trip, every kind of damage rejected with its reason, and nothing of a rejected one left in the output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "runtime/federation/sealed_message.h"

namespace fedtrain {
namespace {

MessageHeader header() {
  MessageHeader h;
  h.phase = static_cast<uint16_t>(Phase::kReduceScatter);
  h.job = job_tag("job");
  h.round = 7;
  h.attempt = 1;
  h.sender = 2;
  h.receiver = 3;
  h.step = 1;
  h.chunk = 4;
  h.chunk_count = 9;
  h.length = 100;
  return h;
}

class SealedMessage : public ::testing::Test {
 protected:
  SealedMessage() : key_(Key256{1}), payload_(100), wire_(wire_bytes(100)), out_(100) {
    for (size_t i = 0; i < payload_.size(); ++i) payload_[i] = static_cast<uint8_t>(i * 7);
    seal_message(key_, header(), payload_.data(), wire_.data());
  }
  std::string open(const std::vector<uint8_t>& wire, const MessageHeader& expected = header()) {
    return open_message(key_, expected, wire.data(), wire.size(), out_.data());
  }
  std::string flipped(size_t offset) {
    std::vector<uint8_t> w = wire_;
    w[offset] ^= 1;
    return open(w);
  }
  Aes256Gcm key_;
  std::vector<uint8_t> payload_, wire_, out_;
};

TEST_F(SealedMessage, RoundTripWith76BytesOfOverhead) {
  EXPECT_EQ(wire_.size(), 176u);
  EXPECT_EQ(open(wire_), "");
  EXPECT_EQ(out_, payload_);
  // The payload does not travel in clear.
  EXPECT_NE(std::memcmp(wire_.data() + wire_offset::kPayload, payload_.data(), 100), 0);
}

TEST_F(SealedMessage, EveryHeaderFieldIsChecked) {
  EXPECT_NE(flipped(6).find("header field 'phase'"), std::string::npos);
  EXPECT_NE(flipped(8).find("header field 'job'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kRound).find("header field 'round' is 6, expected 7"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kAttempt).find("'attempt'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kSender).find("'sender'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kReceiver).find("'receiver'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kStep).find("'step'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kChunk).find("'chunk' is 5, expected 4"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kChunkCount).find("'chunk count'"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kLength).find("'length'"), std::string::npos);
  EXPECT_NE(flipped(0).find("not a fedtrain message"), std::string::npos);
}

TEST_F(SealedMessage, NonceCiphertextAndTagAreChecked) {
  EXPECT_NE(flipped(wire_offset::kNonce).find("nonce"), std::string::npos);
  EXPECT_NE(flipped(wire_offset::kPayload + 50).find("authentication tag does not verify"), std::string::npos);
  EXPECT_NE(flipped(wire_.size() - 1).find("authentication tag does not verify"), std::string::npos);
}

TEST_F(SealedMessage, TruncatedMisroutedAndForeignKeyAreRejected) {
  std::vector<uint8_t> cut(wire_.begin(), wire_.begin() + 120);
  EXPECT_NE(open(cut).find("(truncated)"), std::string::npos);
  MessageHeader to_other = header();
  to_other.receiver = 4;  // the message was meant for leader 3
  EXPECT_NE(open(wire_, to_other).find("'receiver' is 3, expected 4"), std::string::npos);
  Aes256Gcm other(Key256{2});
  EXPECT_NE(open_message(other, header(), wire_.data(), wire_.size(), out_.data()).find("tag does not verify"),
            std::string::npos);
}

bool all_zero(const uint8_t* p, size_t bytes) { return std::all_of(p, p + bytes, [](uint8_t b) { return b == 0; }); }

// GCM decrypts before it can check the tag: a failed open must not leave that
// unauthenticated plaintext (here nearly the real payload) for the caller.
TEST_F(SealedMessage, AFailedOpenLeavesTheOutputAllZeros) {
  for (size_t offset : {wire_offset::kPayload + 50, wire_.size() - 1, size_t{wire_offset::kRound}, size_t{0}}) {
    std::vector<uint8_t> w = wire_;
    w[offset] ^= 1;
    std::fill(out_.begin(), out_.end(), 0xA5);
    EXPECT_NE(open(w), "") << "flipped byte " << offset;
    EXPECT_TRUE(all_zero(out_.data(), out_.size())) << "flipped byte " << offset << ": out[50] = " << int(out_[50]);
  }
  std::fill(out_.begin(), out_.end(), 0xA5);
  EXPECT_NE(open(std::vector<uint8_t>(wire_.begin(), wire_.begin() + 120)), "");  // truncated
  EXPECT_TRUE(all_zero(out_.data(), out_.size()));
}

TEST_F(SealedMessage, AFailedOpenInPlaceLeavesThePayloadAllZeros) {
  std::vector<uint8_t> w = wire_;
  w[wire_offset::kPayload + 3] ^= 1;
  uint8_t* payload = w.data() + wire_offset::kPayload;
  EXPECT_NE(open_message(key_, header(), w.data(), w.size(), payload).find("tag does not verify"), std::string::npos);
  EXPECT_TRUE(all_zero(payload, 100));
}

TEST(Aes256GcmOpen, ATagThatDoesNotVerifyLeavesZeros) {
  Aes256Gcm key(Key256{3});
  const GcmNonce nonce{};
  std::vector<uint8_t> plain(1000, 0x5A), sealed(1000), out(1000, 0xA5);
  GcmTag tag;
  key.seal(nonce, nullptr, 0, plain.data(), plain.size(), sealed.data(), tag);
  tag[0] ^= 1;
  EXPECT_FALSE(key.open(nonce, nullptr, 0, sealed.data(), sealed.size(), out.data(), tag));
  EXPECT_TRUE(all_zero(out.data(), out.size())) << "out[0] = " << int(out[0]);
}

}  // namespace
}  // namespace fedtrain
