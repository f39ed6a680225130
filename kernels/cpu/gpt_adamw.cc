// AdamW over a parameter vector whose ranges are decayed or not, in one pass per run of ranges that the
// compiler vectorises for three SIMD levels (isa_dispatch.h).
//
// The update is cpu::adamw_step's (kernels.h), element by element in the same order of operations:
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)
// adamw_step itself is compiled for baseline x86-64 (SSE2); the wider versions here differ from it at
// float rounding level only (where they fuse a multiply and an add).
#include <cmath>

#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

namespace {

struct AdamCoefficients {
  float decay_factor, beta1, beta2, step_size, bc2_sqrt, eps;
};

[[gnu::always_inline]] inline void adamw_loop(float* __restrict params, const float* __restrict grads,
                                              float* __restrict m, float* __restrict v, size_t n,
                                              AdamCoefficients c) {
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    float p = params[i] * c.decay_factor;
    const float mi = c.beta1 * m[i] + (1.0f - c.beta1) * g;
    const float vi = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - c.step_size * mi / (std::sqrt(vi) / c.bc2_sqrt + c.eps);
  }
}

using AdamwFn = void (*)(float*, const float*, float*, float*, size_t, AdamCoefficients);

void adamw_base(float* p, const float* g, float* m, float* v, size_t n, AdamCoefficients c) {
  adamw_loop(p, g, m, v, n, c);
}
FEDTRAIN_TARGET_AVX2 void adamw_avx2(float* p, const float* g, float* m, float* v, size_t n, AdamCoefficients c) {
  adamw_loop(p, g, m, v, n, c);
}
FEDTRAIN_TARGET_AVX512 void adamw_avx512(float* p, const float* g, float* m, float* v, size_t n,
                                         AdamCoefficients c) {
  adamw_loop(p, g, m, v, n, c);
}

}  // namespace

void adamw_step_masked(float* params, const float* grads, float* m, float* v, std::span<const ParamRange> ranges,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  static const AdamwFn fn = pick_isa<AdamwFn>(&adamw_base, &adamw_avx2, &adamw_avx512);
  // Bias corrections as adamw_step computes them.
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  for_each_decay_run(ranges, [&](size_t o, size_t count, bool decay) {
    const AdamCoefficients c{1.0f - lr * (decay ? weight_decay : 0.0f), beta1, beta2, lr / bc1, std::sqrt(bc2), eps};
    fn(params + o, grads + o, m + o, v + o, count, c);
  });
}

}  // namespace fedtrain::kernels::cpu
