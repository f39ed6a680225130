// CUDA_CHECK and CUBLAS_CHECK: every CUDA runtime and cuBLAS return code is checked.
//
// A failure throws fedtrain::Error naming the call, the error's name and text,
// and file:line; the process label (rank and site) is prefixed when it is
// reported, as for every Error (runtime/core/log.h). NCCL has its own macro in
// the one file that includes nccl.h (runtime/collectives/nccl_collectives.cc).
// Kernel launches are checked with CUDA_CHECK(cudaGetLastError()) right after
// the launch (launch-configuration errors; faults inside a kernel surface at
// the next synchronising call, which is checked too).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace fedtrain::kernels::cuda::detail {
[[noreturn]] void cuda_failed(cudaError_t rc, const char* call, const char* file, int line);
[[noreturn]] void cublas_failed(cublasStatus_t rc, const char* call, const char* file, int line);
// For destructors, which must not throw: one warning line on stderr.
void cuda_cleanup_failed(cudaError_t rc, const char* call);
void cublas_cleanup_failed(cublasStatus_t rc, const char* call);
}  // namespace fedtrain::kernels::cuda::detail

#define CUDA_CHECK(call)                                                                 \
  do {                                                                                   \
    cudaError_t cuda_check_rc_ = (call);                                                 \
    if (cuda_check_rc_ != cudaSuccess)                                                   \
      ::fedtrain::kernels::cuda::detail::cuda_failed(cuda_check_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                 \
  do {                                                                                     \
    cublasStatus_t cublas_check_rc_ = (call);                                              \
    if (cublas_check_rc_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::fedtrain::kernels::cuda::detail::cublas_failed(cublas_check_rc_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDA_CHECK_CLEANUP(call)                                                            \
  do {                                                                                      \
    cudaError_t cuda_check_rc_ = (call);                                                    \
    if (cuda_check_rc_ != cudaSuccess) ::fedtrain::kernels::cuda::detail::cuda_cleanup_failed(cuda_check_rc_, #call); \
  } while (0)

#define CUBLAS_CHECK_CLEANUP(call)                                                            \
  do {                                                                                        \
    cublasStatus_t cublas_check_rc_ = (call);                                                 \
    if (cublas_check_rc_ != CUBLAS_STATUS_SUCCESS)                                            \
      ::fedtrain::kernels::cuda::detail::cublas_cleanup_failed(cublas_check_rc_, #call);      \
  } while (0)
