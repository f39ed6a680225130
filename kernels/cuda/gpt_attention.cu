// Causal multi-head self-attention on the GPU: cuBLAS strided-batched SGEMMs and a masked softmax.
//
// For each head h, one cublasSgemmStridedBatched per product runs it for all B sequences (the sequences'
// matrices lie apart in memory: b strides T*3C in qkv, H*T*T in att, T*C in out). Unlike the CPU twin the
// products cover the whole (T,T) square; the softmax writes exact zeros above the diagonal, so P V and the
// gradients take nothing from future keys. Row-major (R,K) is column-major (K,R), so for one (b, h), with
// Q, K, V (T,hs) at leading dimension 3C, P (T,T) at T, O (T,hs) at C, and s = 1/sqrt(hs):
//   forward:  P^T = s K Q^T            gemm(T, N, T, T, hs)    then softmax over each row t, keys <= t
//             O^T = V^T P^T            gemm(N, N, hs, T, T)
//   backward: dV^T += dO^T P           gemm(N, T, hs, T, T)
//             dP^T = V dO^T            gemm(T, N, T, T, hs)    then dS = P (dP - rowsum(P dP)), in place
//             dQ^T += s K^T dS^T       gemm(N, N, hs, T, T)
//             dK^T += s Q^T dS         gemm(N, T, hs, T, T)
// The softmax kernels give one warp to each of the B*H*T rows, and each lane reads and writes only its own
// keys, so the row can be rewritten in place.
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace fedtrain::kernels::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // warps per block

// att (rows,T), in place: row r (query t = r % T) becomes softmax over keys 0..t, and 0 beyond.
__global__ void causal_softmax_kernel(float* __restrict__ att, int rows, int T) {
  const int lane = threadIdx.x % kWarpSize;
  const int r = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (r >= rows) return;  // r is uniform across a warp
  const int t = r % T;
  float* p = att + static_cast<size_t>(r) * T;
  float max = -INFINITY;
  for (int s = lane; s <= t; s += kWarpSize) max = fmaxf(max, p[s]);
  max = warp_max(max);
  float sum = 0.0f;
  for (int s = lane; s <= t; s += kWarpSize) {
    const float e = expf(p[s] - max);
    p[s] = e;
    sum += e;
  }
  const float inv = 1.0f / warp_sum(sum);
  for (int s = lane; s < T; s += kWarpSize) p[s] = s <= t ? p[s] * inv : 0.0f;
}

// ds (rows,T): dP in, dS out: p (dP - sum_{s<=t} p dP) for keys s <= t, 0 beyond.
__global__ void causal_softmax_backward_kernel(float* __restrict__ ds, const float* __restrict__ att, int rows,
                                               int T) {
  const int lane = threadIdx.x % kWarpSize;
  const int r = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (r >= rows) return;
  const int t = r % T;
  float* d = ds + static_cast<size_t>(r) * T;
  const float* p = att + static_cast<size_t>(r) * T;
  float dot = 0.0f;
  for (int s = lane; s <= t; s += kWarpSize) dot += p[s] * d[s];
  dot = warp_sum(dot);
  for (int s = lane; s < T; s += kWarpSize) d[s] = s <= t ? p[s] * (d[s] - dot) : 0.0f;
}

// Where head h's matrices start for sequence 0, and how far apart the sequences are.
struct HeadLayout {
  size_t qkv;   // offset of q (k at + C, v at + 2C) in qkv and dqkv
  size_t att;   // offset of the (T,T) block in att and scratch
  size_t out;   // offset in out and dout
  long long qkv_stride, att_stride, out_stride;
};

HeadLayout head_layout(int h, int T, int C, int H) {
  const int hs = C / H;
  return {static_cast<size_t>(h) * hs,
          static_cast<size_t>(h) * T * T,
          static_cast<size_t>(h) * hs,
          static_cast<long long>(T) * 3 * C,
          static_cast<long long>(H) * T * T,
          static_cast<long long>(T) * C};
}

unsigned int row_blocks(size_t rows) { return static_cast<unsigned int>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void attention_forward(cublasHandle_t blas, cudaStream_t stream, float* out, float* att, const float* qkv, int B,
                       int T, int C, int H) {
  const int hs = C / H, C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs)), one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  for (int h = 0; h < H; ++h) {
    const HeadLayout l = head_layout(h, T, C, H);
    const float* q = qkv + l.qkv;
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &scale, q + C, C3, l.qkv_stride,
                                           q, C3, l.qkv_stride, &zero, att + l.att, T, l.att_stride, B));
  }
  const size_t rows = static_cast<size_t>(B) * H * T;
  causal_softmax_kernel<<<row_blocks(rows), kRowsPerBlock * kWarpSize, 0, stream>>>(att, static_cast<int>(rows), T);
  CUDA_CHECK(cudaGetLastError());
  for (int h = 0; h < H; ++h) {
    const HeadLayout l = head_layout(h, T, C, H);
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &one, qkv + l.qkv + 2 * C, C3,
                                           l.qkv_stride, att + l.att, T, l.att_stride, &zero, out + l.out, C,
                                           l.out_stride, B));
  }
}

void attention_backward(cublasHandle_t blas, cudaStream_t stream, float* dqkv, float* scratch, const float* dout,
                        const float* qkv, const float* att, int B, int T, int C, int H) {
  const int hs = C / H, C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs)), one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSetStream(blas, stream));
  for (int h = 0; h < H; ++h) {
    const HeadLayout l = head_layout(h, T, C, H);
    const float* v = qkv + l.qkv + 2 * C;
    // dV^T (hs,T) += dO^T (hs,T) . P (T,T)
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &one, dout + l.out, C,
                                           l.out_stride, att + l.att, T, l.att_stride, &one, dqkv + l.qkv + 2 * C, C3,
                                           l.qkv_stride, B));
    // dP^T (T,T) = V (T,hs) . dO^T (hs,T)
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &one, v, C3, l.qkv_stride,
                                           dout + l.out, C, l.out_stride, &zero, scratch + l.att, T, l.att_stride, B));
  }
  const size_t rows = static_cast<size_t>(B) * H * T;
  causal_softmax_backward_kernel<<<row_blocks(rows), kRowsPerBlock * kWarpSize, 0, stream>>>(
      scratch, att, static_cast<int>(rows), T);
  CUDA_CHECK(cudaGetLastError());
  for (int h = 0; h < H; ++h) {
    const HeadLayout l = head_layout(h, T, C, H);
    const float* q = qkv + l.qkv;
    // dQ^T (hs,T) += s K^T (hs,T) . dS^T (T,T)
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &scale, q + C, C3, l.qkv_stride,
                                           scratch + l.att, T, l.att_stride, &one, dqkv + l.qkv, C3, l.qkv_stride, B));
    // dK^T (hs,T) += s Q^T (hs,T) . dS (T,T)
    CUBLAS_CHECK(cublasSgemmStridedBatched(blas, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &scale, q, C3, l.qkv_stride,
                                           scratch + l.att, T, l.att_stride, &one, dqkv + l.qkv + C, C3, l.qkv_stride,
                                           B));
  }
}

}  // namespace fedtrain::kernels::cuda
