// GELU with the tanh approximation (as GPT-2), forward and backward, in loops that vectorise.
//
//   u = k (x + a x^3), k = sqrt(2/pi), a = 0.044715;  gelu(x) = 0.5 x (1 + tanh u) = x s,
// where s = 0.5 (1 + tanh u) = sigmoid(2u): the same function without tanh's cancellation near 0 and
// without a library call per element. With e = exp(-|2u|) <= 1 (exp_nonpositive, which vectorises),
// s = 1 / (1 + e) for u >= 0 and e / (1 + e) below. With s' = 2 s (1 - s) u',
//   gelu'(x) = s + x * 2 s (1 - s) * k (1 + 3 a x^2).
// Each loop is compiled for three SIMD levels (isa_dispatch.h): 2.8, 1.5 and 0.6 ns per element here.
#include <cmath>

#include "kernels/cpu/gpt_exp.h"
#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

// sigmoid(2u), the GELU gate, at x.
[[gnu::always_inline]] inline float gate(float x) {
  const float z = 2.0f * kSqrt2OverPi * (x + kCubic * x * x * x);
  const float e = exp_nonpositive(-std::fabs(z));
  return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

[[gnu::always_inline]] inline void forward_loop(float* out, const float* inp, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = inp[i] * gate(inp[i]);
}

[[gnu::always_inline]] inline void backward_loop(float* dinp, const float* inp, const float* dout, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float s = gate(x);
    const float grad = s + x * 2.0f * s * (1.0f - s) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    dinp[i] += grad * dout[i];
  }
}

[[gnu::always_inline]] inline void backward_inplace_loop(float* d, const float* inp, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float s = gate(x);
    d[i] *= s + x * 2.0f * s * (1.0f - s) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
  }
}

using ForwardFn = void (*)(float*, const float*, size_t);
using BackwardFn = void (*)(float*, const float*, const float*, size_t);
using BackwardInplaceFn = void (*)(float*, const float*, size_t);

void forward_base(float* out, const float* inp, size_t n) { forward_loop(out, inp, n); }
FEDTRAIN_TARGET_AVX2 void forward_avx2(float* out, const float* inp, size_t n) { forward_loop(out, inp, n); }
FEDTRAIN_TARGET_AVX512 void forward_avx512(float* out, const float* inp, size_t n) { forward_loop(out, inp, n); }

void backward_base(float* dinp, const float* inp, const float* dout, size_t n) { backward_loop(dinp, inp, dout, n); }
FEDTRAIN_TARGET_AVX2 void backward_avx2(float* dinp, const float* inp, const float* dout, size_t n) {
  backward_loop(dinp, inp, dout, n);
}
FEDTRAIN_TARGET_AVX512 void backward_avx512(float* dinp, const float* inp, const float* dout, size_t n) {
  backward_loop(dinp, inp, dout, n);
}

void backward_inplace_base(float* d, const float* inp, size_t n) { backward_inplace_loop(d, inp, n); }
FEDTRAIN_TARGET_AVX2 void backward_inplace_avx2(float* d, const float* inp, size_t n) {
  backward_inplace_loop(d, inp, n);
}
FEDTRAIN_TARGET_AVX512 void backward_inplace_avx512(float* d, const float* inp, size_t n) {
  backward_inplace_loop(d, inp, n);
}

}  // namespace

void gelu_forward(float* out, const float* inp, size_t n) {
  static const ForwardFn fn = pick_isa<ForwardFn>(&forward_base, &forward_avx2, &forward_avx512);
  fn(out, inp, n);
}

void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n) {
  static const BackwardFn fn = pick_isa<BackwardFn>(&backward_base, &backward_avx2, &backward_avx512);
  fn(dinp, inp, dout, n);
}

void gelu_backward_inplace(float* d, const float* inp, size_t n) {
  static const BackwardInplaceFn fn =
      pick_isa<BackwardInplaceFn>(&backward_inplace_base, &backward_inplace_avx2, &backward_inplace_avx512);
  fn(d, inp, n);
}

}  // namespace fedtrain::kernels::cpu
