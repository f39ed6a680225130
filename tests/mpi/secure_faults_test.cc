// Secure aggregation under attack and with sites sitting out (mpiexec -n 2, 3).
//
// Leader s1 damages one of its own outgoing messages (FaultyTransport, as
// --inject does). The attempt must then fail on every leader, nothing of it
// may be applied, and the retry (attempt 1, fresh keys) must succeed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>

#include "runtime/core/error.h"
#include "runtime/federation/fault_injection.h"
#include "runtime/federation/secure_aggregator.h"
#include "tests/support/secure_leaders.h"

namespace fedtrain {
namespace {

constexpr size_t kLength = 10000;  // 40 KB: several 4000-byte chunks per ring step

std::vector<float> update_of(int rank) {
  std::mt19937_64 gen(500 + rank);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(kLength);
  for (float& x : v) x = u(gen);
  return v;
}

bool on_all(bool mine) {
  int in = mine ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out == 1;
}
bool on_any(bool mine) { return !on_all(!mine); }

struct Attempt {
  AggregateResult result;
  Agreement agreement;
  std::vector<float> update;
  bool counted() const { return agreement.agreed && result.outcome == Outcome::kApplied; }
};

class Leaders {
 public:
  explicit Leaders(const std::vector<std::string>& specs, int min_sites = 2, bool allow_two_participants = true)
      : world_(Comm::borrow(MPI_COMM_WORLD)), keys_(world_) {
    faulty_ = std::make_unique<FaultyTransport>(*keys_.transport, parse_injections(specs), keys_.sites[world_.rank()]);
    SecureOptions o;
    o.chunk_bytes = 4000;
    o.min_sites = min_sites;
    o.allow_two_participants = allow_two_participants;
    aggregator_ = std::make_unique<SecureAggregator>(*faulty_, nullptr, *keys_.schedule, keys_.sites, "test", o);
  }
  Attempt run(int64_t round, int64_t attempt, bool nan = false) {
    Attempt a;
    a.update = update_of(world_.rank());
    if (nan) a.update[7] = NAN;
    UpdateStatus status;
    status.samples = 100 + world_.rank();
    status.norm = 1.0;
    status.finite = !nan;
    status.global = sha256(global_.data(), global_.size() * sizeof(float));
    a.result = aggregator_->average(a.update, status, RoundId{round, attempt});
    // The "new global model" of this test is the average itself.
    const std::vector<float>& model = a.result.outcome == Outcome::kApplied ? a.update : global_;
    a.agreement = aggregator_->agree(a.result.outcome, sha256(model.data(), model.size() * sizeof(float)),
                                     RoundId{round, attempt});
    if (a.counted()) global_ = a.update;
    return a;
  }
  int size() const { return world_.size(); }
  int rank() const { return world_.rank(); }

 private:
  Comm world_;
  testing::SecureLeaders keys_;
  std::unique_ptr<FaultyTransport> faulty_;
  std::unique_ptr<SecureAggregator> aggregator_;
  std::vector<float> global_ = std::vector<float>(kLength, 0.0f);
};

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

// The weighted mean of the sites' updates (weights 100 + rank).
void expect_weighted_mean(const std::vector<float>& got, const std::vector<int>& sites) {
  double total = 0;
  for (int s : sites) total += 100 + s;
  std::vector<double> mean(kLength, 0.0);
  for (int s : sites) {
    const auto v = update_of(s);
    for (size_t i = 0; i < kLength; ++i) mean[i] += (100 + s) / total * v[i];
  }
  for (size_t i = 0; i < kLength; ++i) ASSERT_NEAR(got[i], mean[i], std::ldexp(1.0, -24) + 1e-6) << "element " << i;
}

struct Fault {
  std::string name, spec;
  int min_leaders = 2;
  int64_t round = 1;  // replay needs a round before it
};

class SecureFaults : public ::testing::TestWithParam<Fault> {};

TEST_P(SecureFaults, FailTheAttemptOnEveryLeaderAndTheRetrySucceeds) {
  const Fault& f = GetParam();
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  if (n < f.min_leaders) GTEST_SKIP() << f.name << " needs " << f.min_leaders << " leaders";
  Leaders leaders({f.spec});
  for (int64_t r = 1; r < f.round; ++r) ASSERT_TRUE(on_all(leaders.run(r, 0).counted())) << "clean round " << r;

  Attempt bad = leaders.run(f.round, 0);
  EXPECT_TRUE(on_all(!bad.counted())) << f.spec << " was applied on some leader";
  // The leader that received the damaged message names its sender, the receiver and the round.
  const std::string& why = bad.result.failure.empty() ? bad.agreement.failure : bad.result.failure;
  EXPECT_TRUE(on_any(why.find("from site 's1'") != std::string::npos && why.find("round " + std::to_string(f.round)) != std::string::npos))
      << "rank " << leaders.rank() << ": " << why;

  Attempt retry = leaders.run(f.round, 1);
  ASSERT_TRUE(on_all(retry.counted())) << retry.result.failure << retry.agreement.failure;
  std::vector<int> all;
  for (int s = 0; s < n; ++s) all.push_back(s);
  expect_weighted_mean(retry.update, all);
}

std::vector<Fault> faults() {
  std::vector<Fault> f;
  for (const char* field : {"phase", "job", "round", "attempt", "sender", "receiver", "step", "chunk", "chunk_count",
                            "length", "nonce", "ciphertext", "tag"})
    f.push_back({std::string("tamper_") + field, std::string("tamper:site=s1,round=1,field=") + field});
  f.push_back({"tamper_status", "tamper:site=s1,round=1,field=tag,phase=status"});
  f.push_back({"tamper_all_gather", "tamper:site=s1,round=1,field=ciphertext,phase=all-gather"});
  f.push_back({"truncate", "truncate:site=s1,round=1"});
  f.push_back({"reorder", "reorder:site=s1,round=1"});
  f.push_back({"replay_previous_round", "replay:site=s1,round=2", 2, 2});
  f.push_back({"misroute", "misroute:site=s1,round=1", 3});
  return f;
}

INSTANTIATE_TEST_SUITE_P(Injected, SecureFaults, ::testing::ValuesIn(faults()),
                         [](const auto& p) { return p.param.name; });

// The attack of a network adversary against a victim V (n >= 3): one damaged
// status message makes V's status exchange fail while the others' succeeds.
// If V then masked zeros, the others would decode S0 = sum over s != V of
// w_s q_s from attempt 0 and the full sum S1 from the retry, and S1 - S0 =
// w_V q_V would be V's update, exactly. V must add noise no mask cancels.
TEST(SecurePrivacy, AFailedStatusExchangeLeavesNoDecodableSum) {
  const int n = world_size();
  if (n < 3) GTEST_SKIP() << "the attack needs 3 leaders: the victim and two who decode";
  Leaders leaders({"tamper:site=s1,round=1,field=tag,phase=status"});
  Attempt bad = leaders.run(1, 0);
  const bool my_status_failed = bad.result.failure.find("status") != std::string::npos;
  int mine = my_status_failed ? leaders.rank() : -1, victim = -1;
  MPI_Allreduce(&mine, &victim, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ASSERT_GE(victim, 0) << "no leader's status exchange failed: the injection missed";
  ASSERT_TRUE(on_all(!bad.counted()));
  Attempt retry = leaders.run(1, 1);
  ASSERT_TRUE(on_all(retry.counted())) << retry.result.failure << retry.agreement.failure;

  size_t recovered = 0;
  if (leaders.rank() != victim) {
    double total = 0;
    for (int s = 0; s < n; ++s) total += 100 + s;
    const double w = (100 + victim) / total;
    const auto v = update_of(victim);
    for (size_t i = 0; i < kLength; ++i)
      if (std::abs((retry.update[i] - bad.update[i]) - w * v[i]) < 1e-4) ++recovered;
  }
  EXPECT_LT(recovered, kLength / 100) << "rank " << leaders.rank() << " recovered " << recovered << " of " << kLength
                                      << " elements of site s" << victim << "'s update from two attempts";
}

TEST(SecureParticipation, ASiteWithANaNUpdateSitsOutAndTheOthersComplete) {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  if (n < 3) GTEST_SKIP() << "needs 3 leaders for a quorum of 2 without the NaN site";
  Leaders leaders({});
  Attempt a = leaders.run(1, 0, /*nan=*/leaders.rank() == 1);
  ASSERT_TRUE(on_all(a.counted())) << a.result.failure << a.agreement.failure;
  EXPECT_EQ(a.result.participants, n - 1);
  ASSERT_EQ(a.result.sitting_out.size(), 1u);
  EXPECT_NE(a.result.sitting_out[0].find("site 's1' sits the round out: its update has non-finite values"),
            std::string::npos);
  std::vector<int> others;
  for (int s = 0; s < n; ++s)
    if (s != 1) others.push_back(s);
  expect_weighted_mean(a.update, others);
}

TEST(SecureParticipation, ARoundOfTwoParticipantsIsAbandonedUnlessAcknowledged) {
  // With two participants each would learn the other's update: sum minus own.
  if (world_size() != 3) GTEST_SKIP() << "needs exactly 3 leaders, one of them sitting out";
  Leaders leaders({}, /*min_sites=*/2, /*allow_two_participants=*/false);
  Attempt a = leaders.run(1, 0, /*nan=*/leaders.rank() == 1);
  EXPECT_TRUE(on_all(a.agreement.agreed && a.result.outcome == Outcome::kAbandoned));
  EXPECT_NE(a.result.abandoned_because.find("only 2 sites take part, and each would learn the other's update"),
            std::string::npos)
      << a.result.abandoned_because;
  // A round of all three still runs.
  Attempt all = leaders.run(2, 0);
  EXPECT_TRUE(on_all(all.counted())) << all.result.failure << all.agreement.failure;
}

TEST(SecureParticipation, BelowQuorumTheRoundIsAbandonedEverywhere) {
  Leaders leaders({}, /*min_sites=*/world_size());
  Attempt a = leaders.run(1, 0, /*nan=*/leaders.rank() == 0);
  EXPECT_TRUE(on_all(a.agreement.agreed && a.result.outcome == Outcome::kAbandoned));
}

TEST(SecureParticipation, LeadersThatDivergedAreStoppedAtTheNextRound) {
  // A damaged outcome message reaches one leader only: that leader undoes the
  // round while the others keep it (no protocol can avoid that for the last
  // message). The next round's statuses carry each leader's model hash, and
  // every leader stops with an error instead of training diverged models.
  Leaders leaders({"tamper:site=s1,round=1,field=tag,phase=outcome"});
  Attempt first = leaders.run(1, 0);
  if (on_all(first.counted())) GTEST_SKIP() << "no leader saw the damaged outcome message";
  ASSERT_TRUE(on_any(first.counted())) << "every leader undid the round: nothing diverged";
  std::string error;
  try {
    leaders.run(2, 0);
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("the leaders have diverged"), std::string::npos) << "rank " << leaders.rank() << ": " << error;
}

}  // namespace
}  // namespace fedtrain
