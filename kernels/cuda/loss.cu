// Softmax cross-entropy and its gradient on the GPU, one warp per row; deterministic loss sums.
//
// Each row follows the CPU twin's arithmetic: the first argmax, the max
// subtracted in float, exponentials and their sum in double, the gradient
// rounded to float before onehot and 1/B. Only the order of the double sum
// differs (a fixed warp tree instead of a loop).
#include "kernels/cuda/check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 4;  // warps per block

__global__ void softmax_xent_kernel(float* __restrict__ dlogits, double* __restrict__ row_loss,
                                    int32_t* __restrict__ row_hit, const float* __restrict__ logits,
                                    const int32_t* __restrict__ labels, int B, int V) {
  const int lane = threadIdx.x % kWarp;
  const int b = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
  if (b >= B) return;  // whole warps leave together: b is uniform across a warp
  const float* z = logits + static_cast<size_t>(b) * V;

  // First argmax: the lane's own, then across lanes (larger value wins, ties go to the lower index).
  float best = -INFINITY;
  int arg = V;  // "none yet" sorts after every real index
  for (int v = lane; v < V; v += kWarp)
    if (arg == V || z[v] > best) best = z[v], arg = v;
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(0xffffffffu, best, offset);
    const int other_arg = __shfl_xor_sync(0xffffffffu, arg, offset);
    if (other_arg != V && (arg == V || other > best || (other == best && other_arg < arg))) best = other, arg = other_arg;
  }
  const float zmax = best;

  double denom = 0.0;
  for (int v = lane; v < V; v += kWarp) denom += exp(static_cast<double>(z[v] - zmax));
  for (int offset = kWarp / 2; offset > 0; offset /= 2) denom += __shfl_xor_sync(0xffffffffu, denom, offset);

  const int y = labels[b];
  if (lane == 0) {
    row_loss[b] = log(denom) - static_cast<double>(z[y] - zmax);
    row_hit[b] = arg == y ? 1 : 0;
  }
  if (dlogits != nullptr) {
    const float inv_b = 1.0f / static_cast<float>(B);
    float* d = dlogits + static_cast<size_t>(b) * V;
    for (int v = lane; v < V; v += kWarp) {
      const float p = static_cast<float>(exp(static_cast<double>(z[v] - zmax)) / denom);
      d[v] = (p - (v == y ? 1.0f : 0.0f)) * inv_b;
    }
  }
}

// One block: thread t sums rows t, t + kThreads, ...; then a fixed shared-memory tree.
__global__ void accumulate_rows_kernel(double* loss_sum, int64_t* correct, const double* __restrict__ row_loss,
                                       const int32_t* __restrict__ row_hit, int B) {
  __shared__ double loss[kThreads];
  __shared__ long long hits[kThreads];
  double l = 0.0;
  long long h = 0;
  for (int b = threadIdx.x; b < B; b += kThreads) {
    l += row_loss[b];
    h += row_hit[b];
  }
  loss[threadIdx.x] = l;
  hits[threadIdx.x] = h;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      loss[threadIdx.x] += loss[threadIdx.x + half];
      hits[threadIdx.x] += hits[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *loss_sum += loss[0];
    *correct += hits[0];
  }
}

}  // namespace

void softmax_xent(cudaStream_t stream, float* dlogits, double* row_loss, int32_t* row_hit, const float* logits,
                  const int32_t* labels, int B, int V) {
  if (B == 0) return;
  const unsigned int blocks = (B + kRowsPerBlock - 1) / kRowsPerBlock;
  softmax_xent_kernel<<<blocks, kRowsPerBlock * kWarp, 0, stream>>>(dlogits, row_loss, row_hit, logits, labels, B, V);
  CUDA_CHECK(cudaGetLastError());
}

void accumulate_rows(cudaStream_t stream, double* loss_sum, int64_t* correct, const double* row_loss,
                     const int32_t* row_hit, int B) {
  static_assert(sizeof(long long) == sizeof(int64_t));
  accumulate_rows_kernel<<<1, kThreads, 0, stream>>>(loss_sum, correct, row_loss, row_hit, B);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
