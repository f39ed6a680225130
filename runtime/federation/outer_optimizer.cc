// The leaders' optimizer on the global model.
#include "runtime/federation/outer_optimizer.h"

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"

namespace fedtrain {

OuterOptimizer::OuterOptimizer(const OuterOptimizerConfig& config, size_t param_count) : config_(config) {
  if (config_.momentum != 0.0f) momentum_.assign(param_count, 0.0f);
}

void OuterOptimizer::step(std::span<float> global, std::span<const float> delta) {
  FT_CHECK(global.size() == delta.size());
  kernels::cpu::sgd_step(global.data(), delta.data(), momentum_.empty() ? nullptr : momentum_.data(), global.size(),
                         config_.lr, config_.momentum, 0.0f, config_.nesterov);
}

}  // namespace fedtrain
