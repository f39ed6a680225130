// The sealed link between leaders (mpiexec -n 2, 3): nothing of a message that did not open is handed on
// (zeros in its place, no piece of the ring's sum told).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>

#include "runtime/federation/encrypted_ring.h"
#include "runtime/federation/fault_injection.h"
#include "tests/support/secure_leaders.h"

namespace fedtrain {
namespace {

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
      ring_allreduce(t.link(), data, 4000, [&](size_t, const uint32_t*, size_t count) { told += count; });
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
