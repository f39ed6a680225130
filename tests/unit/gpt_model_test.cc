// The GPT model: its layout (PyTorch names and shapes), GPT-2 initialisation, and a finite-difference check of the whole model's gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/model/gpt.h"

namespace fedtrain {
namespace {

std::vector<uint8_t> random_windows(int B, int T, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<uint8_t> w(static_cast<size_t>(B) * (T + 1));
  for (auto& b : w) b = static_cast<uint8_t>(gen() % 256);
  return w;
}

TEST(Gpt, LayoutFollowsPyTorchNamesAndShapes) {
  Gpt model({.layers = 2, .heads = 2, .dim = 8, .context = 5});
  std::vector<std::pair<std::string, std::vector<size_t>>> want = {{"wte", {256, 8}}, {"wpe", {5, 8}}};
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    for (auto [name, shape] : std::vector<std::pair<std::string, std::vector<size_t>>>{
             {"ln1.weight", {8}}, {"ln1.bias", {8}}, {"attn.qkv.weight", {24, 8}}, {"attn.qkv.bias", {24}},
             {"attn.proj.weight", {8, 8}}, {"attn.proj.bias", {8}}, {"ln2.weight", {8}}, {"ln2.bias", {8}},
             {"mlp.fc.weight", {32, 8}}, {"mlp.fc.bias", {32}}, {"mlp.proj.weight", {8, 32}},
             {"mlp.proj.bias", {8}}})
      want.push_back({b + name, shape});
  }
  want.push_back({"lnf.weight", {8}});
  want.push_back({"lnf.bias", {8}});
  ASSERT_EQ(model.layout().tensors().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(model.layout().tensor(i).name, want[i].first);
    EXPECT_EQ(model.layout().tensor(i).shape, want[i].second) << want[i].first;
  }
  EXPECT_EQ(model.param_count(), 256u * 8 + 5 * 8 + 2 * (4 * 8 + 24 * 8 + 24 + 64 + 8 + 256 + 32 + 256 + 8) + 16);
}

TEST(Gpt, Gpt2Initialisation) {
  Gpt model({.layers = 4, .heads = 4, .dim = 64, .context = 32});
  std::vector<float> a(model.param_count()), b(model.param_count());
  model.init(a, 9);
  model.init(b, 9);
  EXPECT_EQ(a, b);
  auto stddev = [&](const std::string& name) {
    for (size_t t = 0; t < model.layout().tensors().size(); ++t) {
      if (model.layout().tensor(t).name != name) continue;
      double s = 0, s2 = 0;
      const auto v = model.layout().view(std::span<const float>(a), t);
      for (float x : v) s += x, s2 += double(x) * x;
      return std::sqrt(s2 / v.size() - (s / v.size()) * (s / v.size()));
    }
    ADD_FAILURE() << name;
    return 0.0;
  };
  EXPECT_NEAR(stddev("wte"), 0.02, 0.001);
  EXPECT_NEAR(stddev("blocks.1.mlp.fc.weight"), 0.02, 0.001);
  EXPECT_NEAR(stddev("blocks.1.attn.proj.weight"), 0.02 / std::sqrt(8.0), 0.0005);
  EXPECT_NEAR(stddev("blocks.3.mlp.proj.weight"), 0.02 / std::sqrt(8.0), 0.0005);
  EXPECT_EQ(stddev("blocks.0.attn.qkv.bias"), 0.0);
  const auto& ln = model.layout().tensor(2);  // blocks.0.ln1.weight
  for (size_t i = 0; i < ln.count; ++i) ASSERT_EQ(a[ln.offset + i], 1.0f);
}

TEST(Gpt, UntrainedLossIsNearLog256) {
  Gpt model({.layers = 2, .heads = 2, .dim = 16, .context = 12});
  std::vector<float> params(model.param_count());
  model.init(params, 1);
  const auto w = random_windows(8, 12, 3);
  Batch batch;
  batch.size = 8;
  batch.tokens = w.data();
  batch.context = 12;
  const BatchStats s = model.evaluate(params, batch);
  EXPECT_EQ(s.samples, 96);
  EXPECT_NEAR(s.loss_sum / s.samples, std::log(256.0), 0.05);
}

TEST(Gpt, EveryParameterTensorMatchesCentralDifferences) {
  const int B = 2, T = 5;
  Gpt model({.layers = 2, .heads = 2, .dim = 8, .context = T});
  std::vector<float> params(model.param_count()), grads(model.param_count());
  model.init(params, 4);
  // Larger weights than the 0.02 init, so that every path carries a gradient well above float noise.
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<float> u(-0.3f, 0.3f);
  for (float& x : params) x += u(gen);
  const auto w = random_windows(B, T, 5);
  Batch batch;
  batch.size = B;
  batch.tokens = w.data();
  batch.context = T;
  model.forward_backward(params, batch, grads);
  auto mean_loss = [&] {
    const BatchStats s = model.evaluate(params, batch);
    return s.loss_sum / s.samples;
  };
  const float h = 1e-2f;
  for (const TensorInfo& t : model.layout().tensors()) {
    const size_t stride = std::max<size_t>(1, t.count / 12);  // up to a dozen elements of every tensor
    for (size_t k = 0; k < t.count; k += stride) {
      size_t i = t.offset + k;
      if (t.name == "wte") i = t.offset + static_cast<size_t>(w[k % w.size()]) * 8 + k % 8;  // rows the batch uses
      const float saved = params[i];
      params[i] = saved + h;
      const double up = mean_loss();
      params[i] = saved - h;
      const double down = mean_loss();
      params[i] = saved;
      const double fd = (up - down) / (2.0 * h);
      ASSERT_NEAR(grads[i], fd, 2e-4 + 3e-2 * std::abs(fd)) << t.name << " element " << i - t.offset;
    }
  }
}

}  // namespace
}  // namespace fedtrain
