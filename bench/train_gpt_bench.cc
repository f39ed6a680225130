// fedtrain bench train --model gpt: GPT training throughput next to the sgemm rate of its Linear layers' shapes.
//
// Blocks of --steps training steps (forward, backward, AdamW on the whole
// model) alternate with blocks of only the sgemm calls of its learned layers
// (per block qkv (N,3D,D), attn.proj (N,D,D), mlp.fc (N,4D,D), mlp.proj
// (N,D,4D), and the tied output layer (N,V,D); each forward, weight-gradient
// and input-gradient product), with N = B*T. The ratio is the share of that
// pure-GEMM rate the training step reaches; what is left is attention (its
// own products and softmax), LayerNorm, GELU, the loss and the optimizer.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "runtime/core/error.h"
#include "runtime/model/gpt.h"
#include "runtime/model/inner_optimizer.h"

namespace fedtrain {
namespace {

struct Gemm {
  int m, n, k;
};

// The sgemm shapes (M, N, K) of one training step's Linear layers.
std::vector<Gemm> step_gemms(const GptShape& s, int B) {
  const int N = B * s.context, D = s.dim, V = GptShape::kVocab;
  std::vector<Gemm> g;
  auto linear = [&](int C, int OC) {
    g.push_back({N, OC, C});  // forward
    g.push_back({OC, C, N});  // weight gradient
    g.push_back({N, C, OC});  // input gradient
  };
  for (int l = 0; l < s.layers; ++l) {
    linear(D, 3 * D);
    linear(D, D);
    linear(D, 4 * D);
    linear(4 * D, D);
  }
  linear(D, V);
  return g;
}

}  // namespace

int bench_train_gpt(const GptShape& shape, int batch, int steps, int repeats, int threads) {
  openblas_set_num_threads(threads);
  Gpt model(shape);
  std::vector<float> params(model.param_count()), grads(model.param_count());
  model.init(params, 1);
  InnerOptimizerConfig opt_cfg;
  opt_cfg.kind = InnerOptimizerKind::kAdamW;
  opt_cfg.lr = 1e-4f;
  opt_cfg.weight_decay = 0.1f;
  InnerOptimizer opt(opt_cfg, model.layout());
  std::mt19937_64 gen(7);
  std::vector<uint8_t> windows(static_cast<size_t>(batch) * (shape.context + 1));
  for (uint8_t& b : windows) b = static_cast<uint8_t>(32 + gen() % 95);
  Batch b;
  b.size = batch;
  b.tokens = windows.data();
  b.context = shape.context;

  const std::vector<Gemm> gemms = step_gemms(shape, batch);
  size_t largest = 0;
  double flops = 0;
  for (const Gemm& g : gemms) {
    largest = std::max({largest, static_cast<size_t>(g.m) * g.k, static_cast<size_t>(g.k) * g.n,
                        static_cast<size_t>(g.m) * g.n});
    flops += 2.0 * g.m * g.n * g.k;
  }
  std::vector<float> a(largest, 0.5f), w(largest, 0.01f), c(largest, 0.0f);
  auto gemm_step = [&] {
    for (const Gemm& g : gemms)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.m, g.n, g.k, 1.0f, a.data(), g.k, w.data(), g.n, 0.0f,
                  c.data(), g.n);
  };
  auto train_step = [&] {
    model.forward_backward(params, b, grads);
    opt.step(params, grads);
  };
  const auto [train_s, gemm_s] = alternate_blocks(train_step, gemm_step, steps, repeats);
  const double tokens = static_cast<double>(batch) * shape.context;
  std::printf("# fedtrain bench train: %s, batch %d x %d bytes, AdamW, %d OpenBLAS thread(s), median of %d blocks "
              "of %d steps\n",
              model.describe().c_str(), batch, shape.context, threads, repeats, steps);
  std::printf("%-34s %12s %12s %12s\n", "#", "tokens/s", "ms/step", "GFLOP/s");
  std::printf("%-34s %12.0f %12.3f %12.1f\n", "training step (fedtrain)", tokens / train_s, train_s * 1e3,
              flops / train_s / 1e9);
  std::printf("%-34s %12.0f %12.3f %12.1f\n", "sgemm only, its Linear shapes", tokens / gemm_s, gemm_s * 1e3,
              flops / gemm_s / 1e9);
  std::printf("# GFLOP/s count the Linear layers' products only (%.2f GFLOP per step); training reaches %.1f%% of "
              "their sgemm rate\n",
              flops / 1e9, 100.0 * gemm_s / train_s);
  return kExitOk;
}

}  // namespace fedtrain
