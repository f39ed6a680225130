// GELU (tanh approximation) on the GPU, forward and backward, one thread per element.
//
// The same formulation as the CPU twin (kernels/cpu/gpt_gelu.cc): gelu(x) = x s with s = sigmoid(2u),
// u = k (x + a x^3), computed from e = exp(-|2u|) (expf here, the CPU's vectorising exp there).
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;

__device__ inline float gate(float x) {
  const float z = 2.0f * kSqrt2OverPi * (x + kCubic * x * x * x);
  const float e = expf(-fabsf(z));
  return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

__global__ void gelu_forward_kernel(float* __restrict__ out, const float* __restrict__ inp, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) out[i] = inp[i] * gate(inp[i]);
}

__global__ void gelu_backward_kernel(float* __restrict__ dinp, const float* __restrict__ inp,
                                     const float* __restrict__ dout, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float x = inp[i];
    const float s = gate(x);
    const float grad = s + x * 2.0f * s * (1.0f - s) * kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    dinp[i] += grad * dout[i];
  }
}

}  // namespace

void gelu_forward(cudaStream_t stream, float* out, const float* inp, size_t n) {
  if (n == 0) return;
  gelu_forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, inp, n);
  CUDA_CHECK(cudaGetLastError());
}

void gelu_backward(cudaStream_t stream, float* dinp, const float* inp, const float* dout, size_t n) {
  if (n == 0) return;
  gelu_backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(dinp, inp, dout, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
