// The residual connection on the GPU: out = a + b, and its gradient to both inputs.
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

// No __restrict__: out may alias a or b (each element is read, then written, by one thread).
__global__ void residual_forward_kernel(float* out, const float* a, const float* b, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

__global__ void residual_backward_kernel(float* __restrict__ da, float* __restrict__ db,
                                         const float* __restrict__ dout, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float d = dout[i];
    da[i] += d;
    db[i] += d;
  }
}

}  // namespace

void residual_forward(cudaStream_t stream, float* out, const float* a, const float* b, size_t n) {
  if (n == 0) return;
  residual_forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, a, b, n);
  CUDA_CHECK(cudaGetLastError());
}

void residual_backward(cudaStream_t stream, float* da, float* db, const float* dout, size_t n) {
  if (n == 0) return;
  residual_backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(da, db, dout, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
