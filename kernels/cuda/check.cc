// CUDA and cuBLAS failures turned into fedtrain::Error.
#include "kernels/cuda/check.h"

#include <cstdio>
#include <string>

#include "runtime/core/error.h"

namespace fedtrain::kernels::cuda::detail {

void cuda_failed(cudaError_t rc, const char* call, const char* file, int line) {
  throw Error(std::string(call) + " failed: " + cudaGetErrorName(rc) + " (" + cudaGetErrorString(rc) + ") at " +
              file + ":" + std::to_string(line));
}

void cublas_failed(cublasStatus_t rc, const char* call, const char* file, int line) {
  throw Error(std::string(call) + " failed: " + cublasGetStatusName(rc) + " (" + cublasGetStatusString(rc) + ") at " +
              file + ":" + std::to_string(line));
}

void cuda_cleanup_failed(cudaError_t rc, const char* call) {
  std::fprintf(stderr, "fedtrain: warning: %s failed during cleanup: %s (%s)\n", call, cudaGetErrorName(rc),
               cudaGetErrorString(rc));
}

void cublas_cleanup_failed(cublasStatus_t rc, const char* call) {
  std::fprintf(stderr, "fedtrain: warning: %s failed during cleanup: %s (%s)\n", call, cublasGetStatusName(rc),
               cublasGetStatusString(rc));
}

}  // namespace fedtrain::kernels::cuda::detail
