// Fixed-point encoding in Z_2^32 on the GPU, bit-identical to kernels/cpu/quantize.cc.
//
// Every double operation is spelled as a correctly rounded intrinsic
// (__dmul_rn, __dadd_rn), which the compiler never fuses into an FMA, so each
// step rounds exactly as the CPU's separate multiply and add do. The random
// offsets come from the same counter-based stochastic_uniform.
#include "kernels/cuda/check.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

namespace fedtrain::kernels::cuda {
namespace {

__global__ void quantize_kernel(uint32_t* __restrict__ out, const float* __restrict__ x, size_t n, float clip,
                                double scale, uint64_t seed, uint64_t offset) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    const float xi = x[i];
    const float c = xi < -clip ? -clip : (clip < xi ? clip : xi);  // std::clamp(xi, -clip, clip)
    const double v = __dmul_rn(static_cast<double>(c), scale);
    const double q = floor(__dadd_rn(v, cpu::stochastic_uniform(seed, offset + i)));
    out[i] = static_cast<uint32_t>(__double2int_rz(q));
  }
}

__global__ void dequantize_kernel(float* __restrict__ out, const uint32_t* __restrict__ q, size_t n,
                                  double inv_scale) {
  FEDTRAIN_GRID_STRIDE(i, n) {
    out[i] = __double2float_rn(__dmul_rn(static_cast<double>(static_cast<int32_t>(q[i])), inv_scale));
  }
}

}  // namespace

void quantize(cudaStream_t stream, uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed,
              uint64_t offset) {
  if (n == 0) return;
  quantize_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, x, n, clip, scale, seed, offset);
  CUDA_CHECK(cudaGetLastError());
}

void dequantize(cudaStream_t stream, float* out, const uint32_t* q, size_t n, double inv_scale) {
  if (n == 0) return;
  dequantize_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, q, n, inv_scale);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fedtrain::kernels::cuda
