// Linear layer forward and backward on the GPU: cuBLAS SGEMM plus fused bias/activation and bias-gradient kernels.
//
// cuBLAS is column-major; a row-major (R, K) matrix is the column-major
// (K, R) matrix with leading dimension K. So, as in llm.c:
//   out^T (OC,B)  = weight (OC,C) . inp^T (C,B)     gemm(T, N, OC, B, C)
//   dinp^T (C,B)  = weight^T (C,OC) . dout^T (OC,B) gemm(N, N, C, B, OC)
//   dW^T (C,OC)   = inp^T (C,B) . dout (B,OC)       gemm(N, T, C, OC, B)
#include "kernels/cuda/check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

// out (B,OC) = act(out + bias), bias broadcast over rows.
__global__ void bias_act_kernel(float* __restrict__ out, const float* __restrict__ bias, size_t n, int OC, bool relu) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float v = out[i] + bias[i % OC];
    out[i] = relu ? (v < 0.0f ? 0.0f : v) : v;  // as std::max(v, 0.0f) in the CPU twin
  }
}

// dbias (OC) = sum over rows of dout (B,OC). Block (32, kRows): column o = blockIdx.x*32 + tx;
// row-thread ty sums rows ty, ty+kRows, ...; then the kRows partials are added in order.
constexpr int kRows = 16;
__global__ void bias_grad_kernel(float* __restrict__ dbias, const float* __restrict__ dout, int B, int OC) {
  __shared__ float partial[kRows][33];
  const int o = blockIdx.x * 32 + threadIdx.x;
  float s = 0.0f;
  if (o < OC)
    for (int b = threadIdx.y; b < B; b += kRows) s += dout[static_cast<size_t>(b) * OC + o];
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && o < OC) {
    float total = 0.0f;
    for (int r = 0; r < kRows; ++r) total += partial[r][threadIdx.x];
    dbias[o] = total;
  }
}

__global__ void relu_backward_kernel(float* __restrict__ d, const float* __restrict__ out, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) d[i] = out[i] > 0.0f ? d[i] : 0.0f;
}

}  // namespace

void linear_forward(cublasHandle_t blas, cudaStream_t stream, float* out, const float* inp, const float* weight,
                    const float* bias, int B, int C, int OC, Activation act) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, B, C, &one, weight, C, inp, C, &zero, out, OC));
  const size_t n = static_cast<size_t>(B) * OC;
  bias_act_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, bias, n, OC, act == Activation::kRelu);
  CUDA_CHECK(cudaGetLastError());
}

void linear_backward(cublasHandle_t blas, cudaStream_t stream, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int B, int C, int OC) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, B, &one, inp, C, dout, OC, &zero, dweight, C));
  bias_grad_kernel<<<(OC + 31) / 32, dim3(32, kRows), 0, stream>>>(dbias, dout, B, OC);
  CUDA_CHECK(cudaGetLastError());
  if (dinp != nullptr)
    CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, C, B, OC, &one, weight, C, dout, OC, &zero, dinp, C));
}

void relu_backward(cudaStream_t stream, float* d, const float* out, size_t n) {
  if (n == 0) return;
  relu_backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(d, out, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
