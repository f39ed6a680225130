// Launch shapes shared by the elementwise kernels: grid-stride loops over n elements.
#pragma once

#include <algorithm>
#include <cstddef>

namespace fedtrain::kernels::cuda {

constexpr int kThreads = 256;

// Enough blocks to cover n with kThreads each, capped (grid-stride loops take the rest).
inline unsigned int blocks_for(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(std::clamp<size_t>(blocks, 1, size_t{1} << 16));
}

// for (size_t i = first; i < n; i += stride) in a grid-stride loop.
#define FEDTRAIN_GRID_STRIDE(i, n)                                                           \
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);       \
       i += static_cast<size_t>(blockDim.x) * gridDim.x)

}  // namespace fedtrain::kernels::cuda
