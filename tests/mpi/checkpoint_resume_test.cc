// Checkpoint and resume across ranks (mpiexec -n 4, 2 sites x 2 ranks): bit-exact continuation of every
// rank's whole state, the round the leaders agree on, stop requests reaching one rank, and refusals.
#include <gtest/gtest.h>
#include <mpi.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/core/error.h"
#include "runtime/federation/job.h"
#include "runtime/topology/topology.h"
#include "tests/support/mpi_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

using testing::world_rank;

using testing::gather_digests;

class CheckpointResumeTest : public testing::TwoSiteJobTest {
 protected:
  // 2 sites x 2 ranks, checkpoints every round into PATH/<tag>-a and PATH/<tag>-b.
  Config config(const std::string& tag, int rounds) const {
    Config c = testing::two_site_job_config(path_, tag);
    c.job_id = "resume";
    c.rounds = rounds;
    c.local_steps = 5;  // 150 rows per rank of site a: an epoch ends every 18.75 steps, within rounds
    c.checkpoint_every = 1;
    c.checkpoint_keep_last = 5;
    // Secure aggregation, as in production: a resumed run starts a new session.
    for (auto& site : c.sites) site.checkpoint_dir = path_ + "/" + tag + "-" + site.name;
    return c;
  }
  JobResult run(const Config& c) {
    Comm world = Comm::borrow(MPI_COMM_WORLD);
    return run_job(c, Topology::create(c, world));
  }
  // Runs `c` expecting a collective error on every rank; returns (exit code, message).
  std::pair<int, std::string> run_error(const Config& c) {
    try {
      run(c);
    } catch (const Error& e) {
      EXPECT_TRUE(e.collective()) << e.what();
      return {e.exit_code(), e.what()};
    }
    ADD_FAILURE() << "no error";
    return {0, ""};
  }
  void expect_same_state(const JobResult& a, const JobResult& b) {
    const auto sa = gather_digests(a.state_hash), sb = gather_digests(b.state_hash);
    const auto pa = gather_digests(a.params_hash), pb = gather_digests(b.params_hash);
    for (size_t r = 0; r < sa.size(); ++r) {
      EXPECT_EQ(sa[r], sb[r]) << "training state of world rank " << r;
      EXPECT_EQ(pa[r], pb[r]) << "parameters of world rank " << r;
    }
  }
};

TEST_F(CheckpointResumeTest, TwoNRoundsEqualNRoundsStoppedAndResumedForN) {
  for (bool adamw : {false, true}) {
    SCOPED_TRACE(adamw ? "AdamW inner, FedAvg outer" : "SGD momentum inner, DiLoCo outer");
    auto tweak = [&](Config c) {
      if (adamw) {
        c.inner.kind = InnerOptimizerKind::kAdamW;
        c.inner.lr = 0.01f;
        c.outer = OuterOptimizerConfig{1.0f, 0.0f, false};
      }
      return c;
    };
    const std::string u = adamw ? "adamw-u" : "sgd-u", s = adamw ? "adamw-s" : "sgd-s";
    const JobResult whole = run(tweak(config(u, 6)));
    EXPECT_EQ(whole.resumed_after, 0);
    Config first = tweak(config(s, 3));
    first.checkpoint_every = 2;  // rounds 2 and 3 (the last one) are written
    const JobResult half = run(first);
    EXPECT_EQ(half.rounds, 3);
    Config rest = tweak(config(s, 6));
    rest.resume = true;
    const JobResult resumed = run(rest);
    EXPECT_EQ(resumed.resumed_after, 3);
    EXPECT_EQ(resumed.rounds, 6);
    expect_same_state(whole, resumed);
    // The state did move: the halfway state differs from the final one.
    EXPECT_NE(gather_digests(half.state_hash)[0], gather_digests(whole.state_hash)[0]);
    if (world_rank() == 0) {
      EXPECT_DOUBLE_EQ(resumed.test_accuracy, whole.test_accuracy);
    }
  }
}

TEST_F(CheckpointResumeTest, ResumesFromTheNewestRoundEverySiteHoldsIntact) {
  const JobResult whole = run(config("u", 4));
  run(config("s", 3));
  if (world_rank() == 0) {
    fs::remove(CheckpointStore(path_ + "/s-b").path_of(3));                 // lost on site b
    fs::resize_file(CheckpointStore(path_ + "/s-a").path_of(2), 1000);       // damaged on site a
  }
  MPI_Barrier(MPI_COMM_WORLD);
  // a holds 3 and 1 intact, b holds 2 and 1: the newest common round is 1.
  const JobResult resumed = run(config("s", 4));
  EXPECT_EQ(resumed.resumed_after, 1);
  expect_same_state(whole, resumed);
}

TEST_F(CheckpointResumeTest, AStopRequestOnOneRankStopsEveryRankAfterACheckpoint) {
  const JobResult whole = run(config("u", 5));
  Config c = config("s", 5);
  c.checkpoint_every = 0;  // only the stop writes one
  c.inject = {"signal:site=b,rank=1,round=2,sig=USR1"};  // a non-leader of the second site only
  const JobResult stopped = run(c);
  EXPECT_EQ(stopped.stop_signal, SIGUSR1);
  EXPECT_EQ(stopped.rounds, 2);
  if (world_rank() == 0) {
    EXPECT_EQ(CheckpointStore(path_ + "/s-a").rounds(), (std::vector<int64_t>{2}));
    EXPECT_EQ(CheckpointStore(path_ + "/s-b").rounds(), (std::vector<int64_t>{2}));
  }
  c.inject.clear();
  c.checkpoint_every = 1;
  const JobResult resumed = run(c);
  EXPECT_EQ(resumed.stop_signal, 0);
  EXPECT_EQ(resumed.resumed_after, 2);
  expect_same_state(whole, resumed);
}

TEST_F(CheckpointResumeTest, AnotherModelOrSiteSetIsRefusedOnEveryRank) {
  run(config("s", 2));
  Config wider = config("s", 3);
  wider.hidden = {24};
  auto [code, what] = run_error(wider);
  EXPECT_EQ(code, kExitUsage);
  if (world_rank() == 0) {
    EXPECT_NE(what.find("cannot resume job 'resume'"), std::string::npos) << what;
    EXPECT_NE(what.find("holds another model"), std::string::npos) << what;
  }

  Config renamed = config("s", 3);
  renamed.sites[1].name = "c";
  renamed.sites[1].checkpoint_dir = path_ + "/s-c";
  std::tie(code, what) = run_error(renamed);
  EXPECT_EQ(code, kExitUsage);
  if (world_rank() == 0) {
    EXPECT_NE(what.find("written for the sites a,b; this run has the sites a,c"), std::string::npos) << what;
  }
}

TEST_F(CheckpointResumeTest, NoCommonRoundFailsOnEveryRankAndTouchesNothing) {
  run(config("s", 2));
  if (world_rank() == 0) fs::remove_all(path_ + "/s-b");
  MPI_Barrier(MPI_COMM_WORLD);
  auto [code, what] = run_error(config("s", 3));
  EXPECT_EQ(code, kExitRuntime);
  if (world_rank() == 0) {
    EXPECT_NE(what.find("no round is intact on every site (a: intact rounds 2,1; b: intact rounds none"),
              std::string::npos) << what;
    EXPECT_EQ(CheckpointStore(path_ + "/s-a").rounds(), (std::vector<int64_t>{2, 1}));
  }
}

}  // namespace
}  // namespace fedtrain
