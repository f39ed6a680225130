// The collective watchdog: an armed call that overruns is reported once, with what, where and the limit; one that returns in time is not.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/collectives/watchdog.h"

namespace fedtrain {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::mutex mu;
  std::vector<std::string> messages;
  Watchdog::Handler handler() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(m);
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
};

TEST(Watchdog, ReportsAnOverdueCallOnceWithWhatWhereAndTheLimit) {
  Recorder r;
  Watchdog dog(0.05, "site de (rank 0 of 2)", r.handler());
  {
    auto guard = dog.arm("gradient all-reduce");
    std::this_thread::sleep_for(300ms);  // six times the limit: still one report
  }
  ASSERT_EQ(r.count(), 1u);
  EXPECT_EQ(r.messages[0].find("gradient all-reduce on site de (rank 0 of 2) did not return within "
                               "site.collective_timeout_s = 0.05 s"),
            0u)
      << r.messages[0];
}

TEST(Watchdog, StaysQuietForCallsThatReturnInTime) {
  Recorder r;
  Watchdog dog(0.2, "site es", r.handler());
  for (int i = 0; i < 50; ++i) {
    auto guard = dog.arm("gradient all-reduce");
    std::this_thread::sleep_for(2ms);
  }
  std::this_thread::sleep_for(400ms);  // disarmed: the deadline of the last call passes unnoticed
  EXPECT_EQ(r.count(), 0u);
}

TEST(Watchdog, EachArmingHasItsOwnDeadline) {
  Recorder r;
  Watchdog dog(0.2, "site es", r.handler());
  for (int i = 0; i < 8; ++i) {  // 8 x 40 ms armed back to back: longer than the limit, no single call is
    auto guard = dog.arm("gradient all-reduce");
    std::this_thread::sleep_for(40ms);
  }
  EXPECT_EQ(r.count(), 0u);
  {
    auto guard = dog.arm("second call");
    std::this_thread::sleep_for(600ms);
  }
  ASSERT_EQ(r.count(), 1u);
  EXPECT_EQ(r.messages[0].rfind("second call on site es", 0), 0u) << r.messages[0];
}

TEST(Watchdog, ZeroTimeoutDisablesIt) {
  Recorder r;
  Watchdog dog(0, "site es", r.handler());
  auto guard = dog.arm("gradient all-reduce");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(r.count(), 0u);
}

}  // namespace
}  // namespace fedtrain
