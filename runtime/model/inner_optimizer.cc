// SGD with momentum and AdamW over the flat parameter buffer.
#include "runtime/model/inner_optimizer.h"

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"

namespace fedtrain {

InnerOptimizer::InnerOptimizer(const InnerOptimizerConfig& config, size_t param_count) : config_(config) {
  if (config_.kind == InnerOptimizerKind::kAdamW) {
    a_.assign(param_count, 0.0f);
    b_.assign(param_count, 0.0f);
  } else if (config_.momentum != 0.0f) {
    a_.assign(param_count, 0.0f);
  }
}

void InnerOptimizer::step(std::span<float> params, std::span<const float> grads) {
  FT_CHECK(params.size() == grads.size());
  ++steps_;
  if (config_.kind == InnerOptimizerKind::kAdamW) {
    kernels::cpu::adamw_step(params.data(), grads.data(), a_.data(), b_.data(), params.size(), config_.lr,
                             config_.beta1, config_.beta2, config_.eps, config_.weight_decay, steps_);
  } else {
    kernels::cpu::sgd_step(params.data(), grads.data(), a_.empty() ? nullptr : a_.data(), params.size(), config_.lr,
                           config_.momentum, config_.weight_decay, config_.nesterov);
  }
}

std::vector<InnerOptimizer::State> InnerOptimizer::state() {
  if (config_.kind == InnerOptimizerKind::kAdamW) return {{"exp_avg", &a_}, {"exp_avg_sq", &b_}};
  if (!a_.empty()) return {{"momentum", &a_}};
  return {};
}

}  // namespace fedtrain
