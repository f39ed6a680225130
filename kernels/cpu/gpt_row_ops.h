// Reductions over one row of floats that GCC vectorises without reassociating float arithmetic.
//
// GCC may not reorder float sums at -O3 (no -ffast-math), so a plain loop over a row stays scalar. These
// keep kLanes independent partial sums (combined in a fixed order at the end), and take the maximum on
// integers that sort like the floats. Included by the GPT kernels that reduce rows (attention softmax,
// cross-entropy); each includer compiles them once per SIMD level (isa_dispatch.h).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace fedtrain::kernels::cpu::rows {

constexpr int kLanes = 16;

// The float's bits mapped to an int that sorts the same way (negative floats: the magnitude bits flipped).
// Its own inverse.
[[gnu::always_inline]] inline int32_t sortable(float f) {
  const int32_t i = std::bit_cast<int32_t>(f);
  return i ^ ((i >> 31) & 0x7fffffff);
}

// The largest element of x (n >= 1), compared as integers: GCC vectorises an integer max but not a float one
// without -ffinite-math-only.
[[gnu::always_inline]] inline float max(const float* x, int n) {
  int32_t m = sortable(x[0]);
  for (int s = 1; s < n; ++s) m = std::max(m, sortable(x[s]));
  return std::bit_cast<float>(sortable(std::bit_cast<float>(m)));
}

[[gnu::always_inline]] inline float sum(const float* x, int n) {
  float lane[kLanes] = {};
  int s = 0;
  for (; s + kLanes <= n; s += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += x[s + j];
  for (; s < n; ++s) lane[0] += x[s];
  float total = 0.0f;
  for (int j = 0; j < kLanes; ++j) total += lane[j];
  return total;
}

[[gnu::always_inline]] inline float dot(const float* x, const float* y, int n) {
  float lane[kLanes] = {};
  int s = 0;
  for (; s + kLanes <= n; s += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += x[s + j] * y[s + j];
  for (; s < n; ++s) lane[0] += x[s] * y[s];
  float total = 0.0f;
  for (int j = 0; j < kLanes; ++j) total += lane[j];
  return total;
}

}  // namespace fedtrain::kernels::cpu::rows
