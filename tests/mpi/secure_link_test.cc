// The sealed link between leaders (mpiexec -n 2, 3): every message in the egress log before it is sent, and
// nothing of a message that did not open handed on (zeros in its place, no piece of the ring's sum told).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/federation/encrypted_ring.h"
#include "runtime/federation/fault_injection.h"
#include "runtime/federation/secure_aggregator.h"
#include "tests/support/secure_leaders.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

// At every send, the egress log's last line must already be that message's.
class LogCheckingTransport final : public TransportDecorator {
 public:
  LogCheckingTransport(Transport& inner, std::string log_path) : TransportDecorator(inner), path_(std::move(log_path)) {}
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override {
    ++sends_;
    std::ifstream in(path_);
    std::string line, last;
    size_t lines = 0;
    while (std::getline(in, line)) {
      last = line;
      ++lines;
    }
    const std::string want = "\"bytes\":" + std::to_string(bytes.size()) + ",\"sha256\":\"" +
                             to_hex(sha256(bytes.data(), bytes.size())) + "\"";
    if (lines != sends_ || last.find(want) == std::string::npos) {
      ++unrecorded_;
      if (first_.empty())
        first_ = "send " + std::to_string(sends_) + " (tag " + std::to_string(tag) + ", to leader " +
                 std::to_string(peer) + ", " + std::to_string(bytes.size()) + " bytes): the log has " +
                 std::to_string(lines) + " lines, the last is '" + last + "'";
    }
    return inner_.isend(peer, tag, bytes);
  }
  size_t sends() const { return sends_; }
  size_t unrecorded() const { return unrecorded_; }
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  size_t sends_ = 0, unrecorded_ = 0;
  std::string first_;
};

bool on_all(bool mine) {
  int in = mine ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out == 1;
}

TEST(SecureLink, EveryMessageIsInTheEgressLogBeforeItIsSent) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  testing::TempDir dir;
  const std::string path = dir.file("egress.jsonl");
  EgressLog log(path);
  LogCheckingTransport checking(*leaders.transport, path);
  SecureOptions o;
  o.chunk_bytes = 4000;
  // Session set-up, statuses, the ring, outcomes and totals of two rounds.
  SecureAggregator secure(checking, &log, *leaders.schedule, leaders.sites, "test", o);
  for (int64_t round = 1; round <= 2; ++round) {
    std::vector<float> update(10000, 0.01f * static_cast<float>(world.rank() + 1));
    UpdateStatus status;
    status.samples = 100;
    status.norm = 1.0;
    const RoundId id{round, 0};
    const AggregateResult r = secure.average(update, status, id);
    ASSERT_EQ(r.failure, "");
    ASSERT_TRUE(secure.agree(r.outcome, Sha256Digest{}, id).agreed);
    double totals[2] = {1.0, 2.0};
    secure.sum(totals, id);
  }
  EXPECT_GT(checking.sends(), 20u);
  EXPECT_EQ(checking.unrecorded(), 0u) << checking.unrecorded() << " of " << checking.sends()
                                       << " messages were sent before their line was written; first: " << checking.first();
  EXPECT_TRUE(on_all(checking.unrecorded() == 0));
}

// Leader s1 flips one ciphertext bit of its first message of `phase` in round 1.
class TamperedLink {
 public:
  explicit TamperedLink(const std::string& phase)
      : world_(Comm::borrow(MPI_COMM_WORLD)), leaders_(world_) {
    leaders_.schedule->set_session(sha256("s", 1));
    faulty_ = std::make_unique<FaultyTransport>(
        *leaders_.transport, parse_injections({"tamper:site=s1,round=1,phase=" + phase + ",field=ciphertext"}),
        leaders_.sites[world_.rank()]);
    link_ = std::make_unique<SecureLink>(*faulty_, nullptr, leaders_.sites, job_tag("test"));
    keys_ = std::make_unique<RoundKeys>(*leaders_.schedule, world_.size(), 1, 0);
    link_->begin(*keys_);
  }
  SecureLink& link() { return *link_; }
  int rank() const { return world_.rank(); }
  int size() const { return world_.size(); }

 private:
  Comm world_;
  testing::SecureLeaders leaders_;
  std::unique_ptr<FaultyTransport> faulty_;
  std::unique_ptr<SecureLink> link_;
  std::unique_ptr<RoundKeys> keys_;
};

TEST(SecureLink, AMessageThatDoesNotOpenIsHandedOnAsZeros) {
  TamperedLink t("status");
  // s1 sends to leader 0 first: that message is the damaged one.
  std::vector<uint8_t> mine(40, static_cast<uint8_t>(0xA0 + t.rank()));
  std::vector<std::vector<uint8_t>> theirs;
  const std::string failure = t.link().all_to_all(Phase::kStatus, mine, theirs);
  ASSERT_EQ(theirs.size(), static_cast<size_t>(t.size()));
  if (t.rank() == 0) {
    EXPECT_NE(failure.find("from site 's1' to site 's0' rejected: authentication tag does not verify"), std::string::npos)
        << failure;
    EXPECT_TRUE(std::all_of(theirs[1].begin(), theirs[1].end(), [](uint8_t b) { return b == 0; }))
        << "the unauthenticated plaintext of s1's status reached the caller (first byte " << int(theirs[1][0]) << ")";
    for (int p = 2; p < t.size(); ++p) EXPECT_EQ(theirs[p], std::vector<uint8_t>(40, static_cast<uint8_t>(0xA0 + p)));
  } else {
    EXPECT_EQ(failure, "");
  }
}

TEST(SecureLink, ARingChunkThatDoesNotOpenIsNeitherAddedNorTakenAsFinal) {
  TamperedLink t("reduce-scatter");
  const int n = t.size(), me = t.rank(), victim = 2 % n;  // s1 sends its ring chunks to leader (1 + 1) mod n
  const size_t len = 3000;                                 // several 4000-byte chunks per segment
  std::vector<uint32_t> data(len, static_cast<uint32_t>(1000 * (me + 1)));
  size_t told = 0;
  const std::string failure =
      ring_allreduce(t.link(), data, 4000, {}, [&](size_t, const uint32_t*, size_t count) { told += count; });
  if (me != victim) return;
  EXPECT_NE(failure.find("reduce-scatter message (step 0, chunk 1/"), std::string::npos) << failure;
  // Its reduce-scatter failed at the first step: no piece of its sum is the sum.
  EXPECT_EQ(told, 0u) << "elements told final after the failure";
  if (n == 2) {
    // The segment leader 0 was to add s1's part into (segment 1) holds leader 0's own values: nothing was added.
    for (size_t i = len / 2; i < len; ++i) ASSERT_EQ(data[i], 1000u) << "element " << i;
  }
}

}  // namespace
}  // namespace fedtrain
