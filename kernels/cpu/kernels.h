// CPU kernels: the reference implementation of every compute step fedtrain runs.
//
// Plain loops plus OpenBLAS sgemm. Every CUDA kernel (kernels/cuda) has its
// twin here and a test that compares the two. Shapes in comments use B for
// batch, C for input features, OC for output features, V for classes.
// Matrices are row-major; a Linear weight is (OC, C) as in PyTorch.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

// Functions that the CUDA twins (kernels/cuda) call in device code as well.
#if defined(__CUDACC__)
#define FEDTRAIN_HOST_DEVICE __host__ __device__
#else
#define FEDTRAIN_HOST_DEVICE
#endif

namespace fedtrain::kernels::cpu {

enum class Activation { kNone, kRelu };

// out (B,OC) = act(inp (B,C) . weight (OC,C)^T + bias (OC))
void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int B, int C, int OC,
                    Activation act);

// Given dout (B,OC): dweight (OC,C) = dout^T . inp, dbias (OC) = sum_b dout,
// dinp (B,C) = dout . weight (skipped when dinp is null). Overwrites, never accumulates.
void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int B, int C, int OC);

// In place: d (n) *= (out > 0), where out is the ReLU output of the forward pass.
void relu_backward(float* d, const float* out, size_t n);

// Softmax cross-entropy on logits (B,V) with labels (B) in [0,V).
// Returns the summed loss over the batch; `correct` (if not null) gets the
// number of argmax hits. When dlogits is not null it receives the gradient of
// the *mean* loss: (softmax - onehot) / B.
double softmax_xent(float* dlogits, int* correct, const float* logits, const int32_t* labels, int B, int V);

// SGD with momentum, PyTorch semantics (dampening 0):
//   g = grad + weight_decay*p; buf = momentum*buf + g; g = nesterov ? g + momentum*buf : buf; p -= lr*g
// With momentum 0 the buffer is untouched and may be null.
void sgd_step(float* params, const float* grads, float* momentum_buf, size_t n, float lr, float momentum,
              float weight_decay, bool nesterov);

// AdamW (decoupled weight decay), PyTorch semantics; `step` counts from 1.
void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step);

// delta (n) = global (n) - local (n): the DiLoCo pseudo-gradient of a site.
void pseudo_gradient(float* delta, const float* global, const float* local, size_t n);

// x (n) *= alpha
void scale(float* x, size_t n, float alpha);

// Sum of squares in double, and whether every element is finite.
double sum_squares(const float* x, size_t n, bool* all_finite);

// Uniform double in [0, 1) at position `counter` of the stream `seed`:
// splitmix64 of the counter, its top 52 bits as the mantissa of a double in
// [1, 2), minus 1 (exact). Counter-based, so the CPU and the GPU draw the
// same number for the same element without sharing state, and made of
// integer operations and one subtraction so that it vectorises.
FEDTRAIN_HOST_DEVICE inline double stochastic_uniform(uint64_t seed, uint64_t counter) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (counter + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  const uint64_t bits = (z >> 12) | 0x3ff0000000000000ULL;
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits)) - 1.0;  // the same bits, in device code
#else
  return std::bit_cast<double>(bits) - 1.0;
#endif
}

// Fixed point in the ring Z_2^32, with stochastic rounding:
//   v = clamp(x[i], -clip, clip) * scale                  (double)
//   q = floor(v + stochastic_uniform(seed, offset + i))   (unbiased: E[q] = v)
//   out[i] = q as a 32-bit two's-complement ring element
// The caller picks scale (site weight * 2^frac_bits) so that the sum over
// sites cannot overflow (see federation/quantizer.h). Every operation is a
// single IEEE double operation, so the CUDA twin gives identical bits for
// finite inputs whose |v| + 1 stays below 2^31 (quantize.cc is built with
// -ffp-contract=off; the twin uses __dmul_rn/__dadd_rn, never an FMA).
void quantize(uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed, uint64_t offset);
// out[i] = (float)(int32(q[i]) * inv_scale)
void dequantize(float* out, const uint32_t* q, size_t n, double inv_scale);

}  // namespace fedtrain::kernels::cpu
