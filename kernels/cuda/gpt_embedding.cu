// Token plus position embedding on the GPU: an elementwise lookup, and a scatter-add without atomics.
//
// dwte: block (v, chunk of kThreads channels) walks all N tokens in order, kThreads at a time through
// shared memory, and adds dout rows whose token is v; each thread owns one channel, so the sum for each
// (v, c) runs in the order of the positions. dwpe: one thread per (t, c) sums over b.
#include "kernels/cuda/check.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

__global__ void embedding_forward_kernel(float* __restrict__ out, const int32_t* __restrict__ tokens,
                                         const float* __restrict__ wte, const float* __restrict__ wpe, int T, int C,
                                         size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const size_t row = i / C;  // b*T + t
    const int c = static_cast<int>(i % C);
    const int t = static_cast<int>(row % T);
    out[i] = wte[static_cast<size_t>(tokens[row]) * C + c] + wpe[static_cast<size_t>(t) * C + c];
  }
}

// Grid (V, ceil(C / kThreads)), kThreads threads.
__global__ void wte_grad_kernel(float* __restrict__ dwte, const float* __restrict__ dout,
                                const int32_t* __restrict__ tokens, int N, int C) {
  __shared__ int32_t tile[kThreads];
  const int v = blockIdx.x;
  const int c = blockIdx.y * kThreads + threadIdx.x;
  float acc = 0.0f;
  for (int base = 0; base < N; base += kThreads) {
    const int count = min(kThreads, N - base);
    if (static_cast<int>(threadIdx.x) < count) tile[threadIdx.x] = tokens[base + threadIdx.x];
    __syncthreads();
    if (c < C)
      for (int i = 0; i < count; ++i)
        if (tile[i] == v) acc += dout[static_cast<size_t>(base + i) * C + c];
    __syncthreads();  // the tile is rewritten next round
  }
  if (c < C) dwte[static_cast<size_t>(v) * C + c] += acc;
}

__global__ void wpe_grad_kernel(float* __restrict__ dwpe, const float* __restrict__ dout, int B, int T, int C) {
  const size_t n = static_cast<size_t>(T) * C;
  FEDTRAIN_GRID_STRIDE(i, n) {
    float acc = 0.0f;
    for (int b = 0; b < B; ++b) acc += dout[static_cast<size_t>(b) * n + i];
    dwpe[i] += acc;
  }
}

}  // namespace

void embedding_forward(cudaStream_t stream, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       int B, int T, int C) {
  const size_t n = static_cast<size_t>(B) * T * C;
  if (n == 0) return;
  embedding_forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, tokens, wte, wpe, T, C, n);
  CUDA_CHECK(cudaGetLastError());
}

void embedding_backward(cudaStream_t stream, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        int B, int T, int C, int V) {
  if (static_cast<size_t>(B) * T * C == 0 || V == 0) return;
  const dim3 grid(static_cast<unsigned int>(V), static_cast<unsigned int>((C + kThreads - 1) / kThreads));
  wte_grad_kernel<<<grid, kThreads, 0, stream>>>(dwte, dout, tokens, B * T, C);
  CUDA_CHECK(cudaGetLastError());
  wpe_grad_kernel<<<blocks_for(static_cast<size_t>(T) * C), kThreads, 0, stream>>>(dwpe, dout, B, T, C);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
