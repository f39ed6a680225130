// The inner learning-rate schedule: warm-up, constant, cosine, and the keys that set it.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/model/inner_optimizer.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

InnerOptimizerConfig cosine(float lr, float min_lr, int64_t warmup, int64_t total) {
  InnerOptimizerConfig c;
  c.lr = lr;
  c.schedule = InnerSchedule::kCosine;
  c.min_lr = min_lr;
  c.warmup_steps = warmup;
  c.total_steps = total;
  return c;
}

TEST(InnerSchedule, ConstantIsTheLearningRateAtEveryStep) {
  InnerOptimizerConfig c;
  c.lr = 0.01f;
  c.total_steps = 10;
  for (int64_t step : {1, 5, 10, 11, 1000}) EXPECT_EQ(scheduled_lr(c, step), 0.01f) << step;
}

TEST(InnerSchedule, WarmUpRisesLinearlyToTheLearningRate) {
  InnerOptimizerConfig c = cosine(0.01f, 0.0f, 4, 100);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 1), 0.0025f);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 2), 0.005f);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 4), 0.01f);
  c.schedule = InnerSchedule::kConstant;
  EXPECT_FLOAT_EQ(scheduled_lr(c, 3), 0.0075f);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 50), 0.01f);
}

TEST(InnerSchedule, CosineFallsFromTheLearningRateToItsMinimumAtTheLastStep) {
  const InnerOptimizerConfig c = cosine(0.01f, 0.001f, 10, 110);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 10), 0.01f);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 60), 0.0055f);  // half way: the mean of the two
  EXPECT_FLOAT_EQ(scheduled_lr(c, 110), 0.001f);
  EXPECT_FLOAT_EQ(scheduled_lr(c, 500), 0.001f);  // beyond the job's steps (rounds raised on resume)
  for (int64_t s = 11; s <= 110; ++s) EXPECT_LT(scheduled_lr(c, s), scheduled_lr(c, s - 1)) << s;
}

TEST(InnerSchedule, TheOptimizerStepsWithTheScheduledRate) {
  ParamLayout layout;
  layout.add("w", {1});
  InnerOptimizerConfig c = cosine(0.5f, 0.0f, 0, 2);
  c.momentum = 0.0f;
  InnerOptimizer sgd(c, layout);
  std::vector<float> w = {1.0f};
  const std::vector<float> g = {1.0f};
  sgd.step(w, g);  // step 1 of 2: lr 0.5 * (1 + cos(pi / 2)) / 2 = 0.25
  EXPECT_FLOAT_EQ(w[0], 0.75f);
  sgd.step(w, g);  // step 2: the minimum, 0
  EXPECT_FLOAT_EQ(w[0], 0.75f);
}

class InnerScheduleConfig : public ::testing::Test {
 protected:
  std::string write(const std::string& inner) {
    const std::string p = dir_.file("c.ini");
    std::ofstream(p) << "[data]\ntest = test.h5\n[federation]\nrounds = 6\nlocal_steps = 5\nsecure = false\n[inner]\n" << inner
                     << "[site.es]\nranks = 1\ndata = es.h5\n";
    return p;
  }
  testing::TempDir dir_;
};

TEST_F(InnerScheduleConfig, KeysSetTheScheduleOverAllRoundsOfTheJob) {
  const Config c =
      load_config({"--config", write("lr = 0.01\nschedule = cosine\nwarmup_steps = 3\nmin_lr = 0.001\n")}, "");
  EXPECT_EQ(c.inner.schedule, InnerSchedule::kCosine);
  EXPECT_EQ(c.inner.warmup_steps, 3);
  EXPECT_FLOAT_EQ(c.inner.min_lr, 0.001f);
  EXPECT_EQ(c.inner.total_steps, 30);
  EXPECT_EQ(load_config({"--config", write("")}, "").inner.schedule, InnerSchedule::kConstant);
}

TEST_F(InnerScheduleConfig, AMinimumAboveTheLearningRateOrAnUnknownScheduleIsRefused) {
  for (const char* bad : {"lr = 0.01\nschedule = cosine\nmin_lr = 0.1\n", "schedule = linear\n"}) {
    try {
      load_config({"--config", write(bad)}, "");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find("inner."), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace fedtrain
