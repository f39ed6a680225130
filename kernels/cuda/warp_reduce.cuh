// Sum and maximum across the 32 lanes of a warp: butterfly shuffles, every lane gets the result.
//
// All 32 lanes must call them (a kernel that gives each warp one row lets whole warps leave early, never
// single lanes). The order of the additions is fixed, so a result repeats bit for bit.
#pragma once

namespace fedtrain::kernels::cuda {

constexpr int kWarpSize = 32;

__device__ inline float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ inline float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

}  // namespace fedtrain::kernels::cuda
