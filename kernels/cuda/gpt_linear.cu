// A GPT's Linear layers on the GPU: cuBLAS SGEMM (optional bias), a backward pass that accumulates.
//
// Row-major (R,K) is column-major (K,R) with leading dimension K (as in kernels/cuda/linear.cu), so with beta 1:
//   dW^T (C,OC)  += inp^T (C,N) . dout (N,OC)        gemm(N, T, C, OC, N)
//   dinp^T (C,N) += weight^T (C,OC) . dout^T (OC,N)  gemm(N, N, C, N, OC)
// dbias: block (32, kRows) owns 32 columns of dout; row-thread y sums rows y, y + kRows, ...; the partials
// are added in order (deterministic).
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/kernels.h"

namespace fedtrain::kernels::cuda {
namespace {

constexpr int kCols = 32;
constexpr int kRows = 32;

__global__ void column_sum_add_kernel(float* __restrict__ dbias, const float* __restrict__ dout, int N, int OC) {
  __shared__ float partial[kRows][kCols + 1];
  const int o = blockIdx.x * kCols + threadIdx.x;
  float s = 0.0f;
  if (o < OC)
    for (int n = threadIdx.y; n < N; n += kRows) s += dout[static_cast<size_t>(n) * OC + o];
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && o < OC) {
    float total = 0.0f;
    for (int r = 0; r < kRows; ++r) total += partial[r][threadIdx.x];
    dbias[o] += total;
  }
}

}  // namespace

void matmul_forward(cublasHandle_t blas, cudaStream_t stream, float* out, const float* inp, const float* weight,
                    const float* bias, int N, int C, int OC) {
  if (bias != nullptr) {
    linear_forward(blas, stream, out, inp, weight, bias, N, C, OC, Activation::kNone);  // SGEMM, then the bias
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  // out^T (OC,N) = weight (OC,C) . inp^T (C,N)
  CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, weight, C, inp, C, &zero, out, OC));
}

void matmul_backward(cublasHandle_t blas, cudaStream_t stream, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int N, int C, int OC) {
  const float one = 1.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, C, dout, OC, &one, dweight, C));
  if (dbias != nullptr) {
    const unsigned int blocks = static_cast<unsigned int>((OC + kCols - 1) / kCols);
    column_sum_add_kernel<<<blocks, dim3(kCols, kRows), 0, stream>>>(dbias, dout, N, OC);
    CUDA_CHECK(cudaGetLastError());
  }
  if (dinp != nullptr)
    CUBLAS_CHECK(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, weight, C, dout, OC, &one, dinp, C));
}

}  // namespace fedtrain::kernels::cuda
