// Federation rounds across ranks (mpiexec -n 4): the weighted average, and bit-identical replicas.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "kernels/cpu/kernels.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/job.h"
#include "runtime/collectives/transport.h"
#include "runtime/federation/outer_optimizer.h"
#include "runtime/federation/secure_aggregator.h"
#include "runtime/model/mlp.h"
#include "runtime/topology/topology.h"
#include "tests/support/secure_leaders.h"
#include "tests/support/mpi_support.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

using testing::world_rank;

std::vector<float> site_vector(int site, size_t n) {
  std::mt19937_64 gen(100 + site);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

// Every leader's aggregator over leaders_comm: plaintext, or secure with keys made on the spot.
struct LeaderSetup {
  std::unique_ptr<Transport> transport;
  std::unique_ptr<testing::SecureLeaders> keys;
  std::unique_ptr<Aggregator> aggregator;

  LeaderSetup(const Topology& t, bool secure, int min_sites) {
    std::vector<std::string> sites;
    for (const auto& s : t.sites()) sites.push_back(s.name);
    if (!secure) {
      transport = make_mpi_transport(t.leaders_comm());
      aggregator = make_plain_aggregator(*transport, sites, min_sites, 0.0);
      return;
    }
    keys = std::make_unique<testing::SecureLeaders>(t.leaders_comm());
    SecureOptions o;
    o.min_sites = min_sites;
    o.allow_two_participants = true;  // these tests are about the average, not that rule
    o.chunk_bytes = 1000;  // several chunks per ring step
    aggregator = std::make_unique<SecureAggregator>(*keys->transport, nullptr, *keys->schedule, sites, "test", o);
  }
};

class WeightedAverage : public ::testing::TestWithParam<bool> {};

TEST_P(WeightedAverage, EqualsTheSampleWeightedMeanComputedIndependently) {
  const bool secure = GetParam();
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c;
  c.sites = {{.name = "a", .ranks = 1}, {.name = "b", .ranks = 2}, {.name = "c", .ranks = 1}};
  Topology t = Topology::create(c, world);
  const double weights[3] = {100, 250, 75};  // sample counts
  const size_t n = 1000;
  if (!t.is_leader()) return;

  LeaderSetup leaders(t, secure, 2);
  std::vector<float> global = site_vector(9, n);
  std::vector<float> theta = site_vector(t.site_index(), n), delta(n);
  kernels::cpu::pseudo_gradient(delta.data(), global.data(), theta.data(), n);
  UpdateStatus status;
  status.samples = weights[t.site_index()];
  status.norm = 1.0;
  AggregateResult r = leaders.aggregator->average(delta, status, RoundId{1, 0});
  ASSERT_EQ(r.outcome, Outcome::kApplied) << r.failure;
  EXPECT_EQ(r.participants, 3);
  OuterOptimizer fedavg(OuterOptimizerConfig{1.0f, 0.0f, false}, n);
  fedavg.step(global, delta);
  EXPECT_TRUE(leaders.aggregator->agree(Outcome::kApplied, sha256(global.data(), n * sizeof(float)), RoundId{1, 0}).agreed);

  // Independently: the sample-weighted mean of the three sites' models, in double.
  // Secure aggregation adds at most one quantisation step (2^-24) per element.
  std::vector<double> mean(n, 0.0);
  for (int s = 0; s < 3; ++s) {
    std::vector<float> v = site_vector(s, n);
    for (size_t i = 0; i < n; ++i) mean[i] += weights[s] / 425.0 * v[i];
  }
  const double tol = secure ? std::ldexp(1.0, -24) + 1e-6 : 1e-6;
  for (size_t i = 0; i < n; ++i) ASSERT_NEAR(global[i], mean[i], tol) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(PlainAndSecure, WeightedAverage, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "secure" : "plaintext"; });

// Whole jobs on the tiny two-site data (tests/support/mpi_support.h).
class JobTest : public testing::TwoSiteJobTest {
 protected:
  Config config() const {
    Config c = testing::two_site_job_config(path_, "jobtest");
    c.metrics_file = path_ + "/metrics.jsonl";
    c.rounds = 3;
    c.local_steps = 4;
    c.exchange.secure = false;
    return c;
  }
  Config secure_config() const {
    Config c = config();
    c.exchange.secure = true;
    return c;
  }
};

TEST_F(JobTest, EveryRankOfEverySiteHoldsBitIdenticalParametersAfterTheRounds) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c = config();
  Topology t = Topology::create(c, world);
  JobResult r = run_job(c, t);
  auto all = testing::gather_digests(r.params_hash);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i], all[0]) << "rank " << i;
  // Training did move the model away from its initialisation.
  Mlp model(20, c.hidden, 4);
  std::vector<float> init(model.param_count());
  model.init(init, c.seed);
  EXPECT_NE(all[0], sha256(init.data(), init.size() * sizeof(float)));
  if (world_rank() == 0) {
    EXPECT_GT(r.test_accuracy, 0.5);
    EXPECT_TRUE(std::filesystem::exists(c.metrics_file));
  }
}

TEST_F(JobTest, SecureReplicasAreBitIdenticalToo) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c = secure_config();
  JobResult r = run_job(c, Topology::create(c, world));
  auto all = testing::gather_digests(r.params_hash);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i], all[0]) << "rank " << i;
}

// Each site's weighted update is rounded once, stochastically, to the grid of
// step 2^-frac_bits: its error is below one step, so the average of n sites
// is within n steps of the plaintext one (and zero in expectation).
TEST_F(JobTest, SecureAndPlaintextDifferByLessThanOneQuantisationStepPerSite) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config plain = config(), secure = secure_config();
  for (Config* c : {&plain, &secure}) {
    c->rounds = 1;
    c->outer = OuterOptimizerConfig{1.0f, 0.0f, false};  // FedAvg
  }
  const JobResult p = run_job(plain, Topology::create(plain, world));
  const JobResult s = run_job(secure, Topology::create(secure, world));
  const double step = std::ldexp(1.0, -secure.exchange.frac_bits);
  ASSERT_EQ(p.params.size(), s.params.size());
  double worst = 0;
  size_t within_one_step = 0;
  for (size_t i = 0; i < p.params.size(); ++i) {
    const double d = std::abs(static_cast<double>(p.params[i]) - s.params[i]);
    worst = std::max(worst, d);
    within_one_step += d <= step;
    // One step per site, plus the float rounding of the two sums.
    ASSERT_LE(d, 2 * step + 2 * std::abs(p.params[i]) * 0x1p-24) << "parameter " << i;
  }
  EXPECT_GT(worst, 0.0);  // the two paths really are different arithmetic
  if (world_rank() == 0)
    std::printf("secure vs plaintext after one FedAvg round: worst difference %.3f steps, %.1f%% of %zu parameters "
                "within one step\n",
                worst / step, 100.0 * within_one_step / p.params.size(), p.params.size());
}

TEST_F(JobTest, ATamperedExchangeIsRetriedAndLeavesNoTrace) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config clean = secure_config(), attacked = secure_config();
  attacked.inject = {"tamper:site=b,round=2,field=ciphertext"};
  const JobResult a = run_job(clean, Topology::create(clean, world));
  const JobResult b = run_job(attacked, Topology::create(attacked, world));
  EXPECT_EQ(a.params_hash, b.params_hash);
}

TEST_F(JobTest, SitesNamedPerProcessTrainTheSameWay) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config blocks = config();
  JobResult by_blocks = run_job(blocks, Topology::create(blocks, world));
  Config named = config();
  named.process_site = world_rank() < 2 ? "a" : "b";  // as two MPMD app contexts would
  JobResult by_name = run_job(named, Topology::create(named, world));
  EXPECT_EQ(by_name.params_hash, by_blocks.params_hash);
}

}  // namespace
}  // namespace fedtrain
