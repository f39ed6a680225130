// LayerNorm on the GPU: one warp per row for the forward pass and the input gradient, fixed-order column
// sums for the weight and bias gradients.
//
// Each row follows the CPU twin (kernels/cpu/gpt_layernorm.cc): mean, then the variance around it (two
// passes), rstd = 1/sqrt(var + eps); backward dinp = rstd (g - mean(g) - xhat mean(g xhat)), g = dout*weight.
// dweight and dbias: block (32, kRows) owns 32 channels; row-thread y sums rows y, y + kRows, ..., then the
// kRows partials are added in order (deterministic, no atomics).
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace fedtrain::kernels::cuda {
namespace {

constexpr float kEps = 1e-5f;
constexpr int kRowsPerBlock = 8;  // warps per block in the row kernels
constexpr int kRows = 32;         // row-threads per block in the column kernel

__global__ void layernorm_forward_kernel(float* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                                         const float* __restrict__ inp, const float* __restrict__ weight,
                                         const float* __restrict__ bias, int N, int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int n = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (n >= N) return;  // n is uniform across a warp: whole warps leave
  const float* x = inp + static_cast<size_t>(n) * C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) sum += x[c];
  const float m = warp_sum(sum) / static_cast<float>(C);
  float sq = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) sq += (x[c] - m) * (x[c] - m);
  const float s = 1.0f / sqrtf(warp_sum(sq) / static_cast<float>(C) + kEps);
  float* o = out + static_cast<size_t>(n) * C;
  for (int c = lane; c < C; c += kWarpSize) o[c] = (x[c] - m) * s * weight[c] + bias[c];
  if (lane == 0) {
    mean[n] = m;
    rstd[n] = s;
  }
}

__global__ void layernorm_dinp_kernel(float* __restrict__ dinp, const float* __restrict__ dout,
                                      const float* __restrict__ inp, const float* __restrict__ weight,
                                      const float* __restrict__ mean, const float* __restrict__ rstd, int N, int C) {
  const int lane = threadIdx.x % kWarpSize;
  const int n = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (n >= N) return;
  const size_t at = static_cast<size_t>(n) * C;
  const float* x = inp + at;
  const float* d = dout + at;
  const float m = mean[n], s = rstd[n];
  float g_sum = 0.0f, gx_sum = 0.0f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float g = d[c] * weight[c];
    g_sum += g;
    gx_sum += g * (x[c] - m) * s;
  }
  const float g_mean = warp_sum(g_sum) / static_cast<float>(C);
  const float gx_mean = warp_sum(gx_sum) / static_cast<float>(C);
  float* di = dinp + at;
  for (int c = lane; c < C; c += kWarpSize) {
    const float xhat = (x[c] - m) * s;
    di[c] += s * (d[c] * weight[c] - g_mean - xhat * gx_mean);
  }
}

// Block (32, kRows), grid ceil(C/32).
__global__ void layernorm_param_grad_kernel(float* __restrict__ dweight, float* __restrict__ dbias,
                                            const float* __restrict__ dout, const float* __restrict__ inp,
                                            const float* __restrict__ mean, const float* __restrict__ rstd, int N,
                                            int C) {
  __shared__ float partial_w[kRows][kWarpSize + 1];  // +1: no bank conflicts on the column reads
  __shared__ float partial_b[kRows][kWarpSize + 1];
  const int c = blockIdx.x * kWarpSize + threadIdx.x;
  float sw = 0.0f, sb = 0.0f;
  if (c < C)
    for (int n = threadIdx.y; n < N; n += kRows) {
      const size_t i = static_cast<size_t>(n) * C + c;
      sw += dout[i] * ((inp[i] - mean[n]) * rstd[n]);
      sb += dout[i];
    }
  partial_w[threadIdx.y][threadIdx.x] = sw;
  partial_b[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float tw = 0.0f, tb = 0.0f;
    for (int r = 0; r < kRows; ++r) {
      tw += partial_w[r][threadIdx.x];
      tb += partial_b[r][threadIdx.x];
    }
    dweight[c] += tw;
    dbias[c] += tb;
  }
}

unsigned int row_blocks(int N) { return static_cast<unsigned int>((N + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void layernorm_forward(cudaStream_t stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C) {
  if (N == 0) return;
  layernorm_forward_kernel<<<row_blocks(N), kRowsPerBlock * kWarpSize, 0, stream>>>(out, mean, rstd, inp, weight,
                                                                                   bias, N, C);
  CUDA_CHECK(cudaGetLastError());
}

void layernorm_backward(cudaStream_t stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C) {
  if (N == 0) return;
  layernorm_dinp_kernel<<<row_blocks(N), kRowsPerBlock * kWarpSize, 0, stream>>>(dinp, dout, inp, weight, mean,
                                                                                rstd, N, C);
  CUDA_CHECK(cudaGetLastError());
  const unsigned int col_blocks = static_cast<unsigned int>((C + kWarpSize - 1) / kWarpSize);
  layernorm_param_grad_kernel<<<col_blocks, dim3(kWarpSize, kRows), 0, stream>>>(dweight, dbias, dout, inp, mean,
                                                                                 rstd, N, C);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
