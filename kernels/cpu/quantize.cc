// Fixed-point encoding of pseudo-gradients in the ring Z_2^32, for secure aggregation.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

// These loops run once per element of a model on every exchange: each is
// compiled for AVX-512, AVX2 and baseline x86-64, picked at load time by the
// CPU (GCC function multi-versioning). IEEE double arithmetic without
// contraction (-std=c++20 keeps -ffp-contract=off) gives the same bits in
// every version.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define FEDTRAIN_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define FEDTRAIN_CLONES
#endif

FEDTRAIN_CLONES
void quantize(uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed, uint64_t offset) {
  for (size_t i = 0; i < n; ++i) {
    const float c = x[i] < -clip ? -clip : (x[i] > clip ? clip : x[i]);
    const double v = static_cast<double>(c) * scale;
    const double q = std::floor(v + stochastic_uniform(seed, offset + i));
    out[i] = static_cast<uint32_t>(static_cast<int32_t>(q));
  }
}

FEDTRAIN_CLONES
void dequantize(float* out, const uint32_t* q, size_t n, double inv_scale) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(static_cast<int32_t>(q[i])) * inv_scale);
}

}  // namespace fedtrain::kernels::cpu
