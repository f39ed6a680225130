// Device discovery for the CUDA kernels.
#include "kernels/cuda/device.h"

#include <cstdio>
#include <cstring>

namespace fedtrain::kernels::cuda {

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t rc = cudaGetDeviceCount(&n);
  if (rc != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error so later calls do not report it again
    if (why != nullptr) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(rc) + " (" + cudaGetErrorString(rc) + ")";
    return 0;
  }
  if (n == 0 && why != nullptr) *why = "cudaGetDeviceCount: no CUDA device";
  return n;
}

std::string describe_current_device() {
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " + memory;
}

std::array<uint8_t, 16> current_device_uuid() {
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  std::array<uint8_t, 16> uuid{};
  std::memcpy(uuid.data(), p.uuid.bytes, uuid.size());
  return uuid;
}

}  // namespace fedtrain::kernels::cuda
