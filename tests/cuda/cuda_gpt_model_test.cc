// The GPT on the GPU (CudaGptModel, CudaGpt) against the CPU reference (Gpt) on the same parameters and
// batch: the loss, the whole gradient tensor by tensor, evaluation, and one AdamW step (skipped without a GPU).
//
// A tiny model (2 layers, dim 32, 2 heads, context 16) with GPT-2 initial weights and random biases and
// LayerNorm parameters, so that every tensor's gradient is non-trivial. The two devices differ only in
// summation order (about 1e-6 of a tensor's scale); each tensor's gradient must agree to 1e-3 of its norm
// and every element to 1e-3 of the tensor's largest, which a wrong kernel or wiring misses by its whole size. Inputs are drawn from a fresh seed per run (printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/cuda/gpt_kernels.h"
#include "runtime/model/cuda_gpt_model.h"
#include "runtime/model/gpt.h"
#include "runtime/model/inner_optimizer.h"
#include "tests/cuda/gpu_test.h"

namespace fedtrain {
namespace {

using testing::all_close;

const GptShape kShape{.layers = 2, .heads = 2, .dim = 32, .context = 16};

double norm(std::span<const float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// Per tensor: ||gpu - cpu|| <= 1e-3 ||cpu||, and every element within 1e-3 of the tensor's largest entry
// (+ 1e-2 of its own size).
::testing::AssertionResult same_gradient(const ParamLayout& layout, const std::vector<float>& gpu,
                                         const std::vector<float>& cpu) {
  for (size_t t = 0; t < layout.tensors().size(); ++t) {
    const auto g = layout.view(std::span<const float>(gpu), t), c = layout.view(std::span<const float>(cpu), t);
    std::vector<float> diff(c.size());
    float scale = 0;
    for (size_t i = 0; i < c.size(); ++i) diff[i] = g[i] - c[i], scale = std::max(scale, std::abs(c[i]));
    if (!(scale > 0)) return ::testing::AssertionFailure() << layout.tensor(t).name << ": the CPU gradient is zero";
    if (!(norm(diff) <= 1e-3 * norm(c)))
      return ::testing::AssertionFailure() << layout.tensor(t).name << ": relative error " << norm(diff) / norm(c);
    auto close = all_close(std::vector<float>(g.begin(), g.end()), std::vector<float>(c.begin(), c.end()),
                           1e-3 * scale, 1e-2);
    if (!close) return close << " in " << layout.tensor(t).name;
  }
  return ::testing::AssertionSuccess();
}

class CudaGptModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FEDTRAIN_REQUIRE_GPU();
    seed_ = testing::fresh_seed();
    gen_.seed(seed_);
    RecordProperty("seed", std::to_string(seed_));
    params_.resize(cpu_.param_count());
    cpu_.init(params_, seed_);
    // Biases and LayerNorm parameters away from 0 and 1: their gradients then reach every path.
    std::uniform_real_distribution<float> u(-0.2f, 0.2f);
    for (size_t t = 0; t < cpu_.layout().tensors().size(); ++t)
      if (cpu_.layout().tensor(t).shape.size() == 1)
        for (float& x : cpu_.layout().view(std::span<float>(params_), t)) x += u(gen_);
  }
  // B windows of T+1 random bytes.
  std::vector<uint8_t> windows(int B, int T) {
    std::vector<uint8_t> w(static_cast<size_t>(B) * (T + 1));
    for (uint8_t& b : w) b = static_cast<uint8_t>(gen_() % 256);
    return w;
  }
  static Batch batch_of(const std::vector<uint8_t>& w, int B, int T) {
    Batch b;
    b.size = B;
    b.tokens = w.data();
    b.context = T;
    return b;
  }

  uint64_t seed_ = 0;
  std::mt19937_64 gen_;
  Gpt cpu_{kShape};
  CudaGptModel gpu_{kShape};
  std::vector<float> params_;
};

TEST_F(CudaGptModelTest, LossAndGradientMatchTheCpuModel) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int T : {16, 7}) {  // the full context, and shorter windows (positions 0..T-1 of wpe)
    SCOPED_TRACE("T = " + std::to_string(T));
    const int B = 4;
    const auto w = windows(B, T);
    std::vector<float> g_cpu(cpu_.param_count()), g_gpu(cpu_.param_count(), NAN);
    const BatchStats a = cpu_.forward_backward(params_, batch_of(w, B, T), g_cpu);
    const BatchStats b = gpu_.forward_backward(params_, batch_of(w, B, T), g_gpu);
    EXPECT_EQ(b.samples, a.samples);
    EXPECT_EQ(a.samples, B * T);
    EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-5 * a.loss_sum);
    EXPECT_NEAR(a.loss_sum / a.samples, std::log(256.0), 0.5);  // near-uniform predictions at initialisation
    EXPECT_TRUE(same_gradient(cpu_.layout(), g_gpu, g_cpu));

    std::vector<float> again(cpu_.param_count(), NAN);
    const BatchStats c = gpu_.forward_backward(params_, batch_of(w, B, T), again);
    EXPECT_EQ(c.loss_sum, b.loss_sum);  // the GPU kernels sum in a fixed order
    EXPECT_TRUE(all_close(again, g_gpu, 0, 0)) << "a second run differs";
  }
}

TEST_F(CudaGptModelTest, EvaluationMatchesTheCpuModel) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const int B = 16, T = 16;  // the evaluator's batch of validation windows (site_data.cc)
  const auto w = windows(B, T);
  const BatchStats a = cpu_.evaluate(params_, batch_of(w, B, T));
  const BatchStats b = gpu_.evaluate(params_, batch_of(w, B, T));
  EXPECT_EQ(b.samples, a.samples);
  EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-5 * a.loss_sum);
  // A smaller batch after a larger one (the last evaluation batch), and training after evaluation.
  const BatchStats c = gpu_.evaluate(params_, batch_of(w, 3, T));
  EXPECT_NEAR(c.loss_sum, cpu_.evaluate(params_, batch_of(w, 3, T)).loss_sum, 1e-5 * c.loss_sum);
  std::vector<float> g(cpu_.param_count());
  EXPECT_GT(gpu_.forward_backward(params_, batch_of(w, 2, T), g).loss_sum, 0.0);
}

TEST_F(CudaGptModelTest, OneAdamWStepMatchesTheCpuOptimizer) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const int B = 4, T = 16;
  const auto w = windows(B, T);
  std::vector<float> grads(cpu_.param_count());
  cpu_.forward_backward(params_, batch_of(w, B, T), grads);

  InnerOptimizerConfig c;
  c.kind = InnerOptimizerKind::kAdamW;
  c.lr = 1e-3f;
  c.weight_decay = 0.1f;
  // The CPU trainer's step, and the GPU trainer's (cuda_site_trainer.cc) on the same gradient.
  std::vector<float> p_cpu = params_;
  InnerOptimizer opt(c, cpu_.layout());
  opt.step(p_cpu, grads);
  const size_t n = cpu_.param_count();
  auto d_params = testing::to_device(params_), d_grads = testing::to_device(grads);
  auto d_m = testing::to_device(std::vector<float>(n, 0.0f)), d_v = testing::to_device(std::vector<float>(n, 0.0f));
  kernels::cuda::Stream stream;
  kernels::cuda::adamw_step_masked(stream.get(), d_params.data(), d_grads.data(), d_m.data(), d_v.data(),
                                   decay_ranges(cpu_.layout()), scheduled_lr(c, 1), c.beta1, c.beta2, c.eps,
                                   c.weight_decay, 1);
  CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  const std::vector<float> p_gpu = testing::to_host(d_params);
  EXPECT_TRUE(all_close(p_gpu, p_cpu, 1e-6, 1e-5));
  EXPECT_NE(p_gpu, params_);  // it stepped
  EXPECT_TRUE(all_close(testing::to_host(d_m), *opt.state()[0].buffer, 1e-9, 1e-5)) << "exp_avg";
  EXPECT_TRUE(all_close(testing::to_host(d_v), *opt.state()[1].buffer, 1e-12, 1e-5)) << "exp_avg_sq";
}

}  // namespace
}  // namespace fedtrain
