// The leaders' group against a peer that lies or stays silent (one process, a scripted transport).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <map>

#include "runtime/collectives/leader_group.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Rank 0 of two: sends complete at once; a receive completes with the next
// scripted message of its tag, or never when none is left (a silent peer).
class ScriptedTransport final : public Transport {
 public:
  std::map<int, std::deque<std::string>> inbound;  // tag -> messages from rank 1
  int rank() const override { return 0; }
  int size() const override { return 2; }
  Handle isend(int, int, std::span<const uint8_t>) override { return add({}, true, 0); }
  Handle irecv(int, int tag, std::span<uint8_t> buffer) override {
    auto& q = inbound[tag];
    if (q.empty()) return add(buffer, false, 0);
    const std::string m = q.front();
    q.pop_front();
    if (m.size() > buffer.size()) return add(buffer, true, kTooLong);
    std::memcpy(buffer.data(), m.data(), m.size());
    return add(buffer, true, m.size());
  }
  size_t wait(Handle) override { ADD_FAILURE() << "the group must not block in wait()"; return 0; }
  bool test(Handle h, size_t* bytes) override {
    if (!done_[h]) return false;
    if (bytes != nullptr) *bytes = got_[h];
    return true;
  }
  size_t wait_any(std::span<Handle>, size_t*) override { ADD_FAILURE() << "not used"; return 0; }

 private:
  Handle add(std::span<uint8_t>, bool done, size_t got) {
    done_.push_back(done);
    got_.push_back(got);
    return static_cast<Handle>(done_.size() - 1);
  }
  std::vector<bool> done_;
  std::vector<size_t> got_;
};

std::string length(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::string error_of(ScriptedTransport& t, double timeout_s = 5) {
  LeaderGroup g(t, {"es", "de"}, timeout_s);
  try {
    g.allgather("mine");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LeaderGroup, GathersWhatThePeerSends) {
  ScriptedTransport t;
  t.inbound[LeaderGroup::kHeadTag] = {length(6) + "theirs"};
  LeaderGroup g(t, {"es", "de"}, 5);
  EXPECT_EQ(g.allgather("mine"), (std::vector<std::string>{"mine", "theirs"}));
  // A value beyond the head's inline bytes comes in two messages.
  const std::string big(LeaderGroup::kInlineBytes + 1000, 'b');
  t.inbound[LeaderGroup::kHeadTag] = {length(big.size()) + big.substr(0, LeaderGroup::kInlineBytes)};
  t.inbound[LeaderGroup::kRestTag] = {big.substr(LeaderGroup::kInlineBytes)};
  EXPECT_EQ(g.allgather("mine")[1], big);
}

TEST(LeaderGroup, ASilentPeerIsNamedWithinTheTimeout) {
  ScriptedTransport t;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of(t, 0.3);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(e.find("site 'de' sent no value within federation.peer_timeout_s"), std::string::npos) << e;
  EXPECT_GE(s, 0.3);
  EXPECT_LT(s, 30.0);  // bounded; generous for a loaded machine
}

TEST(LeaderGroup, AHugeAnnouncedLengthIsRefusedBeforeAnyAllocation) {
  ScriptedTransport t;
  t.inbound[LeaderGroup::kHeadTag] = {length(uint64_t{1} << 62)};
  EXPECT_NE(error_of(t).find("site 'de' announced a 4611686018427387904-byte value"), std::string::npos);
  t.inbound[LeaderGroup::kHeadTag] = {length(uint64_t{1} << 63)};  // negative as int64
  EXPECT_NE(error_of(t).find("site 'de' announced a -"), std::string::npos);
}

TEST(LeaderGroup, MalformedMessagesAreErrorsNamingThePeer) {
  ScriptedTransport t;
  t.inbound[LeaderGroup::kHeadTag] = {"abc"};
  EXPECT_NE(error_of(t).find("site 'de' sent a malformed value (3 bytes)"), std::string::npos);
  t.inbound[LeaderGroup::kHeadTag] = {std::string(8 + LeaderGroup::kInlineBytes + 1, 'x')};
  EXPECT_NE(error_of(t).find("site 'de' sent a malformed value (too long)"), std::string::npos);
  t.inbound[LeaderGroup::kHeadTag] = {length(10) + "short"};
  EXPECT_NE(error_of(t).find("site 'de' sent 5 bytes after announcing 10"), std::string::npos);
  t.inbound[LeaderGroup::kHeadTag] = {length(LeaderGroup::kInlineBytes + 10) + std::string(LeaderGroup::kInlineBytes, 'x')};
  t.inbound[LeaderGroup::kRestTag] = {"four"};
  EXPECT_NE(error_of(t).find("site 'de' sent 65540 bytes after announcing 65546"), std::string::npos) << error_of(t);
  LeaderGroup g(t, {"es", "de"}, 5);
  t.inbound[LeaderGroup::kHeadTag] = {length(3) + "abc"};
  try {
    g.max_over(1);  // a 3-byte value where an integer (8 bytes) belongs
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("site 'de' sent a 3-byte value"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedtrain
