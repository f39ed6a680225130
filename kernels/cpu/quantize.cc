// Fixed-point encoding of pseudo-gradients in the ring Z_2^32, for secure aggregation.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

void quantize(uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed, uint64_t offset) {
  for (size_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(std::clamp(x[i], -clip, clip)) * scale;
    const double q = std::floor(v + stochastic_uniform(seed, offset + i));
    out[i] = static_cast<uint32_t>(static_cast<int32_t>(q));
  }
}

void dequantize(float* out, const uint32_t* q, size_t n, double inv_scale) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(static_cast<int32_t>(q[i])) * inv_scale);
}

}  // namespace fedtrain::kernels::cpu
