// Benchmarks behind 'fedtrain bench'. Each prints a table and returns an exit code.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "runtime/model/gpt.h"

namespace fedtrain {

// Collective over MPI_COMM_WORLD (MPI already initialised).
int bench_allreduce(const std::vector<std::string>& args);
// Collective over MPI_COMM_WORLD: every rank one site's leader.
int bench_secagg(const std::vector<std::string>& args);
// One process: training step vs sgemm of the same shapes (--device cpu or cuda).
int bench_train(const std::vector<std::string>& args);
// bench train --model gpt (train_gpt_bench.cc).
int bench_train_gpt(const GptShape& shape, int batch, int steps, int repeats, int threads);
// One process: checkpoint write vs raw write+fsync of the same bytes.
int bench_checkpoint(const std::vector<std::string>& args);

// Median seconds per step of `a` and of `b`, timed in alternating blocks of
// `steps` steps (after one warm-up block of each), `repeats` blocks of each, so
// that both see the same (shared, noisy) machine.
template <typename A, typename B>
std::pair<double, double> alternate_blocks(A&& a, B&& b, int steps, int repeats) {
  using Clock = std::chrono::steady_clock;
  auto block = [&](auto&& step) {
    const auto t0 = Clock::now();
    for (int s = 0; s < steps; ++s) step();
    return std::chrono::duration<double>(Clock::now() - t0).count() / steps;
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  block(a);
  block(b);
  std::vector<double> ta, tb;
  for (int r = 0; r < repeats; ++r) {
    ta.push_back(block(a));
    tb.push_back(block(b));
  }
  return {median(ta), median(tb)};
}

// The model and timing loop of 'bench train'.
struct TrainBenchShape {
  std::vector<int> hidden;
  int batch = 128, input = 784, classes = 10, steps = 20, repeats = 7;
  int peak_n = 8192;  // the square SGEMM that measures the GPU's FP32 rate
};
// The GPU side (FEDTRAIN_WITH_CUDA builds only): bench/train_bench_cuda.cc.
int bench_train_cuda(const TrainBenchShape& shape);

}  // namespace fedtrain
