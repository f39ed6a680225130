// Helpers of the GPU tests: skip by name without a GPU, device buffers from and to host vectors.
//
// Every GPU test starts with FEDTRAIN_REQUIRE_GPU(): on a machine without a
// usable CUDA device it is reported as skipped, with the reason, and ctest
// marks the whole executable "Skipped" (SKIP_REGULAR_EXPRESSION in
// tests/CMakeLists.txt matches kSkipMarker).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/device.h"

namespace fedtrain::testing {

inline constexpr const char* kSkipMarker = "fedtrain: GPU test skipped";

#define FEDTRAIN_REQUIRE_GPU()                                                                 \
  do {                                                                                         \
    std::string fedtrain_gpu_why_;                                                             \
    if (::fedtrain::kernels::cuda::device_count(&fedtrain_gpu_why_) == 0)                      \
      GTEST_SKIP() << ::fedtrain::testing::kSkipMarker << ": no CUDA device (" << fedtrain_gpu_why_ << ")"; \
  } while (0)

// A fresh seed per run (printed by the tests), so each run draws new inputs.
inline uint64_t fresh_seed() { return (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}(); }

template <typename T>
kernels::cuda::DeviceBuffer<T> to_device(const std::vector<T>& host) {
  kernels::cuda::DeviceBuffer<T> d(host.size());
  CUDA_CHECK(cudaMemcpy(d.data(), host.data(), d.bytes(), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());  // the copy ran on the legacy stream; kernels run on a non-blocking one
  return d;
}

// A device buffer whose every byte is `byte` (0xFF: every float is NaN), so that
// elements a kernel fails to write cannot pass a comparison.
template <typename T>
kernels::cuda::DeviceBuffer<T> poisoned(size_t count, int byte = 0xFF) {
  kernels::cuda::DeviceBuffer<T> d(count);
  CUDA_CHECK(cudaMemset(d.data(), byte, d.bytes()));
  CUDA_CHECK(cudaDeviceSynchronize());  // cudaMemset is asynchronous; the tests' kernels run on another stream
  return d;
}

template <typename T>
std::vector<T> to_host(const kernels::cuda::DeviceBuffer<T>& d) {
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> host(d.size());
  CUDA_CHECK(cudaMemcpy(host.data(), d.data(), d.bytes(), cudaMemcpyDeviceToHost));
  return host;
}

// |got - ref| <= atol + rtol*|ref| for every element (NaN fails), as llm.c's validate_result.
template <typename T>
::testing::AssertionResult all_close(const std::vector<T>& got, const std::vector<T>& ref, double atol, double rtol) {
  if (got.size() != ref.size()) return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << ref.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), r = static_cast<double>(ref[i]);
    if (!(std::abs(g - r) <= atol + rtol * std::abs(r)))
      return ::testing::AssertionFailure() << "element " << i << " of " << got.size() << ": GPU " << g << ", CPU " << r
                                           << " (tolerance " << atol << " + " << rtol << "*|ref|)";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace fedtrain::testing
