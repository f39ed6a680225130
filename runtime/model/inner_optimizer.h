// The optimizer every rank applies after the site's gradient all-reduce: SGD (momentum) or AdamW.
//
// State lives in flat buffers with the parameters' layout, so it can be
// checkpointed by name and compared across ranks. Ranks of one site hold
// identical state because they apply identical steps to identical gradients.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/gpt_kernels.h"
#include "runtime/core/config.h"
#include "runtime/model/param_layout.h"

namespace fedtrain {

// The names of the optimizer's state buffers, in checkpoint order: "momentum"
// (SGD with momentum), "exp_avg" and "exp_avg_sq" (AdamW), none (plain SGD).
// One list for every device: the CPU optimizer below and the GPU trainer's
// device buffers both follow it, so their checkpoints are interchangeable.
std::vector<std::string> inner_state_names(const InnerOptimizerConfig& config);

// AdamW's weight decay applies to the tensors of two or more dimensions
// (weight matrices, embeddings), not to biases and LayerNorm parameters, as
// GPT-2 and PyTorch practice have it: the ranges of `layout`, flagged.
std::vector<kernels::cpu::ParamRange> decay_ranges(const ParamLayout& layout);

// The learning rate of inner step `step` (1 for the job's first), by config.schedule: linear warm-up over
// warmup_steps, then constant, or a cosine from lr down to min_lr at step total_steps (and min_lr after it).
// Both devices' trainers use it, so their steps are the same.
float scheduled_lr(const InnerOptimizerConfig& config, int64_t step);

class InnerOptimizer {
 public:
  InnerOptimizer(const InnerOptimizerConfig& config, const ParamLayout& layout);

  void step(std::span<float> params, std::span<const float> grads);

  int64_t steps() const { return steps_; }
  // Restores the step count (AdamW's bias correction depends on it), with state() for the buffers.
  void set_steps(int64_t steps) { steps_ = steps; }
  // Named state buffers ("momentum", or "exp_avg" and "exp_avg_sq"), for checkpoints.
  struct State {
    std::string name;
    std::vector<float>* buffer;
  };
  std::vector<State> state();

 private:
  InnerOptimizerConfig config_;
  std::vector<kernels::cpu::ParamRange> decay_;
  int64_t steps_ = 0;
  std::vector<float> a_, b_;  // SGD: momentum in a_; AdamW: exp_avg in a_, exp_avg_sq in b_
};

}  // namespace fedtrain
