// The leaders' optimizer on the global model, fed the averaged pseudo-gradient.
//
//   delta = mean_s(theta_global - theta_s)                 (pseudo-gradient)
//   buf = momentum*buf + delta
//   theta_global -= lr * (nesterov ? delta + momentum*buf : buf)
//
// lr 1, momentum 0 is FedAvg (theta_global becomes the weighted mean of the
// sites' models); lr 0.7, momentum 0.9, Nesterov is DiLoCo's outer step.
#pragma once

#include <span>
#include <vector>

#include "runtime/core/config.h"

namespace fedtrain {

class OuterOptimizer {
 public:
  OuterOptimizer(const OuterOptimizerConfig& config, size_t param_count);
  void step(std::span<float> global, std::span<const float> delta);
  std::vector<float>& momentum() { return momentum_; }

 private:
  OuterOptimizerConfig config_;
  std::vector<float> momentum_;
};

}  // namespace fedtrain
