// Finite-difference check of every gradient of the MLP, element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "runtime/model/mlp.h"

namespace fedtrain {
namespace {

TEST(MlpGradient, EveryParameterMatchesCentralDifferences) {
  const int D = 9, B = 6, V = 4;
  Mlp model(D, {7, 5}, V);
  std::vector<float> params(model.param_count()), grads(model.param_count());
  model.init(params, 3);
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(B * D);
  for (float& v : x) v = u(gen);
  std::vector<int32_t> y = {0, 1, 2, 3, 1, 2};
  const Batch batch{B, x.data(), y.data()};
  model.forward_backward(params, batch, grads);

  auto mean_loss = [&](std::vector<float>& p) { return model.evaluate(p, batch).loss_sum / B; };
  const float h = 1e-3f;
  for (const TensorInfo& t : model.layout().tensors()) {
    for (size_t k = 0; k < t.count; ++k) {
      const size_t i = t.offset + k;
      const float saved = params[i];
      params[i] = saved + h;
      const double up = mean_loss(params);
      params[i] = saved - h;
      const double down = mean_loss(params);
      params[i] = saved;
      const double fd = (up - down) / (2.0 * h);
      ASSERT_NEAR(grads[i], fd, 2e-3 + 1e-2 * std::abs(fd)) << t.name << "[" << k << "]";
    }
  }
}

TEST(MlpGradient, InitIsDeterministicAndWithinPyTorchBounds) {
  Mlp model(784, {256, 128}, 10);
  EXPECT_EQ(model.param_count(), 784u * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  std::vector<float> a(model.param_count()), b(model.param_count());
  model.init(a, 42);
  model.init(b, 42);
  EXPECT_EQ(a, b);
  const auto& w0 = model.layout().tensor(0);
  EXPECT_EQ(w0.name, "layers.0.weight");
  EXPECT_EQ(w0.shape, (std::vector<size_t>{256, 784}));
  EXPECT_EQ(model.describe(), "MLP 784-256-128-10 (235146 parameters)");
  for (size_t k = 0; k < w0.count; ++k) ASSERT_LE(std::abs(a[w0.offset + k]), 1.0f / std::sqrt(784.0f));
}

}  // namespace
}  // namespace fedtrain
