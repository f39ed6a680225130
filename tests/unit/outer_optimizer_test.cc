// The outer step: FedAvg gives the mean of the sites' models; Nesterov follows its closed form.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/kernels.h"
#include "runtime/federation/outer_optimizer.h"

namespace fedtrain {
namespace {

TEST(OuterOptimizer, FedAvgReplacesTheGlobalModelByTheMean) {
  std::vector<float> global = {1.0f, -2.0f}, site_mean = {0.5f, 3.0f}, delta(2);
  kernels::cpu::pseudo_gradient(delta.data(), global.data(), site_mean.data(), 2);
  OuterOptimizer fedavg(OuterOptimizerConfig{1.0f, 0.0f, false}, 2);
  fedavg.step(global, delta);
  EXPECT_FLOAT_EQ(global[0], 0.5f);
  EXPECT_FLOAT_EQ(global[1], 3.0f);
}

TEST(OuterOptimizer, NesterovMomentumAcrossRounds) {
  OuterOptimizer diloco(OuterOptimizerConfig{0.7f, 0.9f, true}, 1);
  std::vector<float> theta = {1.0f};
  double rt = 1.0, buf = 0.0;
  for (double d : {0.2, 0.1, -0.05}) {
    std::vector<float> delta = {static_cast<float>(d)};
    diloco.step(theta, delta);
    buf = 0.9 * buf + d;
    rt -= 0.7 * (d + 0.9 * buf);
  }
  EXPECT_NEAR(theta[0], rt, 1e-6);
}

}  // namespace
}  // namespace fedtrain
