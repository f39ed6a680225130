// Optimizer steps and the vector updates of a federation round, on the GPU.
//
// One thread per element in grid-stride loops; the same formulas as the CPU
// twins (kernels/cpu/optimizer.cc), with the step-dependent AdamW constants
// computed on the host exactly as there. The compiler may fuse a multiply and
// an add into one FMA here, so results match the CPU to rounding, not bits.
#include <cmath>

#include "kernels/cuda/check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

__global__ void sgd_kernel(float* __restrict__ params, const float* __restrict__ grads, size_t n, float lr,
                           float weight_decay) {
  FEDTRAIN_GRID_STRIDE(i, n) params[i] -= lr * (grads[i] + weight_decay * params[i]);
}

__global__ void sgd_momentum_kernel(float* __restrict__ params, const float* __restrict__ grads,
                                    float* __restrict__ momentum_buf, size_t n, float lr, float momentum,
                                    float weight_decay, bool nesterov) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float g = grads[i] + weight_decay * params[i];
    const float buf = momentum * momentum_buf[i] + g;
    momentum_buf[i] = buf;
    params[i] -= lr * (nesterov ? g + momentum * buf : buf);
  }
}

__global__ void adamw_kernel(float* __restrict__ params, const float* __restrict__ grads, float* __restrict__ m,
                             float* __restrict__ v, size_t n, float decay, float beta1, float beta2, float eps,
                             float step_size, float bc2_sqrt) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float g = grads[i];
    const float p = params[i] * decay;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
  }
}

__global__ void pseudo_gradient_kernel(float* __restrict__ delta, const float* __restrict__ global,
                                       const float* __restrict__ local, size_t n) {
  FEDTRAIN_GRID_STRIDE(i, n) delta[i] = global[i] - local[i];
}

__global__ void scale_kernel(float* __restrict__ x, size_t n, float alpha) {
  FEDTRAIN_GRID_STRIDE(i, n) x[i] *= alpha;
}

}  // namespace

void sgd_step(cudaStream_t stream, float* params, const float* grads, float* momentum_buf, size_t n, float lr,
              float momentum, float weight_decay, bool nesterov) {
  if (n == 0) return;
  if (momentum == 0.0f)
    sgd_kernel<<<blocks_for(n), kThreads, 0, stream>>>(params, grads, n, lr, weight_decay);
  else
    sgd_momentum_kernel<<<blocks_for(n), kThreads, 0, stream>>>(params, grads, momentum_buf, n, lr, momentum,
                                                                weight_decay, nesterov);
  CUDA_CHECK(cudaGetLastError());
}

void adamw_step(cudaStream_t stream, float* params, const float* grads, float* m, float* v, size_t n, float lr,
                float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  if (n == 0) return;
  // As in cpu::adamw_step.
  const float bc1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta1), static_cast<double>(step)));
  const float bc2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(beta2), static_cast<double>(step)));
  const float step_size = lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  const float decay = 1.0f - lr * weight_decay;
  adamw_kernel<<<blocks_for(n), kThreads, 0, stream>>>(params, grads, m, v, n, decay, beta1, beta2, eps, step_size,
                                                       bc2_sqrt);
  CUDA_CHECK(cudaGetLastError());
}

void pseudo_gradient(cudaStream_t stream, float* delta, const float* global, const float* local, size_t n) {
  if (n == 0) return;
  pseudo_gradient_kernel<<<blocks_for(n), kThreads, 0, stream>>>(delta, global, local, n);
  CUDA_CHECK(cudaGetLastError());
}

void scale(cudaStream_t stream, float* x, size_t n, float alpha) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, alpha);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
