// Fixed-point encoding of pseudo-gradients in the ring Z_2^32, for secure aggregation.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/isa_dispatch.h"
#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

// These loops run once per element of a model on every exchange, so each is
// compiled three times (AVX-512, AVX2, baseline x86-64) and picked once by
// the CPU's features. Not by GCC's target_clones("arch=..."): that asks for
// the CPU *model*, which virtual machines often hide. IEEE double arithmetic
// without contraction (-ffp-contract=off) gives the same bits in every
// version, and in the CUDA twin.
namespace {

[[gnu::always_inline]] inline void quantize_loop(uint32_t* out, const float* x, size_t n, float clip, double scale,
                                                 uint64_t seed, uint64_t offset) {
  for (size_t i = 0; i < n; ++i) {
    const float c = x[i] < -clip ? -clip : (x[i] > clip ? clip : x[i]);
    const double v = static_cast<double>(c) * scale;
    const double q = std::floor(v + stochastic_uniform(seed, offset + i));
    out[i] = static_cast<uint32_t>(static_cast<int32_t>(q));
  }
}

[[gnu::always_inline]] inline void dequantize_loop(float* out, const uint32_t* q, size_t n, double inv_scale) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(static_cast<int32_t>(q[i])) * inv_scale);
}

using QuantizeFn = void (*)(uint32_t*, const float*, size_t, float, double, uint64_t, uint64_t);
using DequantizeFn = void (*)(float*, const uint32_t*, size_t, double);

void quantize_base(uint32_t* o, const float* x, size_t n, float c, double s, uint64_t seed, uint64_t off) {
  quantize_loop(o, x, n, c, s, seed, off);
}
void dequantize_base(float* o, const uint32_t* q, size_t n, double inv) { dequantize_loop(o, q, n, inv); }

FEDTRAIN_TARGET_AVX2 void quantize_avx2(uint32_t* o, const float* x, size_t n, float c, double s, uint64_t seed,
                                        uint64_t off) {
  quantize_loop(o, x, n, c, s, seed, off);
}
FEDTRAIN_TARGET_AVX2 void dequantize_avx2(float* o, const uint32_t* q, size_t n, double inv) {
  dequantize_loop(o, q, n, inv);
}
FEDTRAIN_TARGET_AVX512 void quantize_avx512(uint32_t* o, const float* x, size_t n, float c, double s, uint64_t seed,
                                            uint64_t off) {
  quantize_loop(o, x, n, c, s, seed, off);
}
FEDTRAIN_TARGET_AVX512 void dequantize_avx512(float* o, const uint32_t* q, size_t n, double inv) {
  dequantize_loop(o, q, n, inv);
}

}  // namespace

// The SIMD level is picked by isa_dispatch.h (CPU features, capped by FEDTRAIN_CPU_ISA).
void quantize(uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed, uint64_t offset) {
  static const QuantizeFn fn = pick_isa<QuantizeFn>(&quantize_base, &quantize_avx2, &quantize_avx512);
  fn(out, x, n, clip, scale, seed, offset);
}

void dequantize(float* out, const uint32_t* q, size_t n, double inv_scale) {
  static const DequantizeFn fn = pick_isa<DequantizeFn>(&dequantize_base, &dequantize_avx2, &dequantize_avx512);
  fn(out, q, n, inv_scale);
}

}  // namespace fedtrain::kernels::cpu
