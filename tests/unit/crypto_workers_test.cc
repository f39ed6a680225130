// Crypto threads: every task runs once, one at a time per lane; a task's exception reaches the submitter; no threads runs inline.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/federation/crypto_workers.h"

namespace fedtrain {
namespace {

// Submits `tasks` tasks and takes them all; returns how often each id came back.
std::vector<int> run_all(CryptoWorkers& w, size_t tasks, std::vector<std::atomic<int>>& busy, std::atomic<int>& overlap) {
  for (size_t id = 0; id < tasks; ++id) {
    w.submit(id, [&busy, &overlap](int lane) {
      if (++busy[lane] != 1) ++overlap;
      std::this_thread::yield();
      --busy[lane];
    });
  }
  std::vector<int> seen(tasks, 0);
  std::vector<size_t> done;
  while (w.pending() > 0) {
    w.wait_done(1.0);
    done.clear();
    w.take_done(done);
    for (size_t id : done) ++seen.at(id);
  }
  return seen;
}

TEST(CryptoWorkers, EveryTaskRunsOnceAndNoTwoShareALaneAtOnce) {
  for (int threads : {0, 1, 3}) {
    CryptoWorkers w(threads);
    EXPECT_EQ(w.lanes(), threads == 0 ? 1 : threads);
    std::vector<std::atomic<int>> busy(w.lanes());
    std::atomic<int> overlap{0};
    const std::vector<int> seen = run_all(w, 500, busy, overlap);
    EXPECT_EQ(seen, std::vector<int>(500, 1)) << threads << " threads";
    EXPECT_EQ(overlap.load(), 0) << threads << " threads";
  }
}

TEST(CryptoWorkers, WithoutThreadsATaskRunsAtOnceOnTheCaller) {
  CryptoWorkers w(0);
  const auto caller = std::this_thread::get_id();
  bool ran_here = false;
  w.submit(7, [&](int lane) { ran_here = std::this_thread::get_id() == caller && lane == 0; });
  EXPECT_TRUE(ran_here);
  std::vector<size_t> done;
  w.take_done(done);
  EXPECT_EQ(done, std::vector<size_t>{7});
  EXPECT_EQ(w.pending(), 0u);
}

TEST(CryptoWorkers, ATasksExceptionIsRethrownOnceEveryOtherTaskFinished) {
  for (int threads : {0, 2}) {
    CryptoWorkers w(threads);
    std::atomic<int> finished{0};
    for (size_t id = 0; id < 20; ++id)
      w.submit(id, [&, id](int) {
        if (id == 3) throw std::runtime_error("task 3 failed");
        ++finished;
      });
    std::vector<size_t> done;
    bool thrown = false;
    while (!thrown && w.pending() > 0) {
      w.wait_done(1.0);
      try {
        w.take_done(done);
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "task 3 failed");
        thrown = true;
      }
    }
    EXPECT_TRUE(thrown) << threads << " threads";
    EXPECT_EQ(w.pending(), 0u);
    EXPECT_EQ(finished.load(), 19) << "a task was still running or dropped when the exception came";
  }
}

TEST(CryptoWorkers, TheOnDoneHookRunsAfterEachTask) {
  CryptoWorkers w(2);
  std::atomic<int> calls{0};
  w.set_on_done([&] { ++calls; });
  std::vector<std::atomic<int>> busy(w.lanes());
  std::atomic<int> overlap{0};
  run_all(w, 50, busy, overlap);
  w.set_on_done({});  // returns once no worker is inside the hook
  EXPECT_EQ(calls.load(), 50);
}

TEST(CryptoWorkers, AutoLeavesTheSitesRanksTheirCores) {
  const int cpus = affinity_cpus();
  EXPECT_GE(cpus, 1);
  EXPECT_EQ(auto_crypto_threads(cpus), 0);
  EXPECT_EQ(auto_crypto_threads(cpus + 5), 0);
  EXPECT_EQ(auto_crypto_threads(cpus - 1), std::min(1, kMaxCryptoThreads));
  EXPECT_EQ(auto_crypto_threads(-100), kMaxCryptoThreads);
}

}  // namespace
}  // namespace fedtrain
