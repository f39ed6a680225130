// Optimizer steps and the vector updates of a federation round.
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

void sgd_step(float* params, const float* grads, float* momentum_buf, size_t n, float lr, float momentum,
              float weight_decay, bool nesterov) {
  if (momentum == 0.0f) {
    for (size_t i = 0; i < n; ++i) params[i] -= lr * (grads[i] + weight_decay * params[i]);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    float g = grads[i] + weight_decay * params[i];
    float buf = momentum * momentum_buf[i] + g;
    momentum_buf[i] = buf;
    params[i] -= lr * (nesterov ? g + momentum * buf : buf);
  }
}

void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step) {
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < n; ++i) {
    float g = grads[i];
    params[i] *= 1.0f - lr * weight_decay;
    m[i] = beta1 * m[i] + (1.0f - beta1) * g;
    v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

void pseudo_gradient(float* delta, const float* global, const float* local, size_t n) {
  for (size_t i = 0; i < n; ++i) delta[i] = global[i] - local[i];
}

void scale(float* x, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) x[i] *= alpha;
}

double sum_squares(const float* x, size_t n, bool* all_finite) {
  double s = 0.0;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) {
    finite = finite && std::isfinite(x[i]);
    s += static_cast<double>(x[i]) * x[i];
  }
  if (all_finite != nullptr) *all_finite = finite;
  return s;
}

}  // namespace fedtrain::kernels::cpu
