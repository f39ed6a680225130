// SGD with momentum and AdamW over the flat parameter buffer.
#include "runtime/model/inner_optimizer.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"

namespace fedtrain {

std::vector<std::string> inner_state_names(const InnerOptimizerConfig& config) {
  if (config.kind == InnerOptimizerKind::kAdamW) return {"exp_avg", "exp_avg_sq"};
  if (config.momentum != 0.0f) return {"momentum"};
  return {};
}

std::vector<kernels::cpu::ParamRange> decay_ranges(const ParamLayout& layout) {
  std::vector<kernels::cpu::ParamRange> ranges;
  for (const TensorInfo& t : layout.tensors()) ranges.push_back({t.offset, t.count, t.shape.size() >= 2});
  return ranges;
}

float scheduled_lr(const InnerOptimizerConfig& config, int64_t step) {
  const double lr = config.lr;
  if (step <= config.warmup_steps) return static_cast<float>(lr * static_cast<double>(step) / config.warmup_steps);
  if (config.schedule == InnerSchedule::kConstant) return config.lr;
  const int64_t span = std::max<int64_t>(1, config.total_steps - config.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - config.warmup_steps) / static_cast<double>(span));
  const double pi = 3.14159265358979323846;
  return static_cast<float>(config.min_lr + (lr - config.min_lr) * 0.5 * (1.0 + std::cos(pi * progress)));
}

InnerOptimizer::InnerOptimizer(const InnerOptimizerConfig& config, const ParamLayout& layout)
    : config_(config), decay_(decay_ranges(layout)) {
  const size_t param_count = layout.count();
  const size_t buffers = inner_state_names(config).size();
  if (buffers > 0) a_.assign(param_count, 0.0f);
  if (buffers > 1) b_.assign(param_count, 0.0f);
}

void InnerOptimizer::step(std::span<float> params, std::span<const float> grads) {
  FT_CHECK(params.size() == grads.size());
  ++steps_;
  const float lr = scheduled_lr(config_, steps_);
  if (config_.kind == InnerOptimizerKind::kAdamW) {
    kernels::cpu::adamw_step_masked(params.data(), grads.data(), a_.data(), b_.data(), decay_, lr, config_.beta1,
                                    config_.beta2, config_.eps, config_.weight_decay, steps_);
  } else {
    kernels::cpu::sgd_step(params.data(), grads.data(), a_.empty() ? nullptr : a_.data(), params.size(), lr,
                           config_.momentum, config_.weight_decay, config_.nesterov);
  }
}

std::vector<InnerOptimizer::State> InnerOptimizer::state() {
  std::vector<State> out;
  std::vector<float>* buffers[2] = {&a_, &b_};
  const std::vector<std::string> names = inner_state_names(config_);
  for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], buffers[i]});
  return out;
}

}  // namespace fedtrain
