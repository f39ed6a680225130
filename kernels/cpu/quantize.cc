// Fixed-point encoding of pseudo-gradients in the ring Z_2^32, for secure aggregation.
#include <algorithm>
#include <cmath>

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

#if defined(__GNUC__) && defined(__x86_64__)
#define FEDTRAIN_X86_DISPATCH 1
[[gnu::target("avx2,fma")]] void quantize_avx2(uint32_t* o, const float* x, size_t n, float c, double s, uint64_t seed,
                                               uint64_t off) {
  quantize_loop(o, x, n, c, s, seed, off);
}
[[gnu::target("avx2,fma")]] void dequantize_avx2(float* o, const uint32_t* q, size_t n, double inv) {
  dequantize_loop(o, q, n, inv);
}
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] void quantize_avx512(uint32_t* o, const float* x, size_t n,
                                                                          float c, double s, uint64_t seed,
                                                                          uint64_t off) {
  quantize_loop(o, x, n, c, s, seed, off);
}
[[gnu::target("avx512f,avx512dq,avx512vl,avx512bw")]] void dequantize_avx512(float* o, const uint32_t* q, size_t n,
                                                                            double inv) {
  dequantize_loop(o, q, n, inv);
}
#endif

enum class Isa { kBase, kAvx2, kAvx512 };

Isa best_isa() {
#ifdef FEDTRAIN_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kBase;
}

}  // namespace

void quantize(uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed, uint64_t offset) {
  static const QuantizeFn fn = [] {
#ifdef FEDTRAIN_X86_DISPATCH
    switch (best_isa()) {
      case Isa::kAvx512: return &quantize_avx512;
      case Isa::kAvx2: return &quantize_avx2;
      case Isa::kBase: break;
    }
#endif
    return &quantize_base;
  }();
  fn(out, x, n, clip, scale, seed, offset);
}

void dequantize(float* out, const uint32_t* q, size_t n, double inv_scale) {
  static const DequantizeFn fn = [] {
#ifdef FEDTRAIN_X86_DISPATCH
    switch (best_isa()) {
      case Isa::kAvx512: return &dequantize_avx512;
      case Isa::kAvx2: return &dequantize_avx2;
      case Isa::kBase: break;
    }
#endif
    return &dequantize_base;
  }();
  fn(out, q, n, inv_scale);
}

}  // namespace fedtrain::kernels::cpu
