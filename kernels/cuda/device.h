// RAII for CUDA handles: device and pinned host buffers, streams, events, cuBLAS handles.
//
// Every handle is owned by exactly one object (move-only), released in its
// destructor; allocation failures throw (CUDA_CHECK), release failures are
// reported on stderr (a destructor must not throw).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "kernels/cuda/check.h"

namespace fedtrain::kernels::cuda {

// Number of CUDA devices this process sees; 0 when there is none or no usable
// driver, with the reason in *why (if given).
int device_count(std::string* why = nullptr);

// "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" for the current device.
std::string describe_current_device();

// The current device's UUID (distinct for every GPU and MIG instance).
std::array<uint8_t, 16> current_device_uuid();

// Where a CudaBuffer's memory lives, and how it is taken and given back.
struct DeviceMemory {  // GPU memory
  static cudaError_t allocate(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
  static cudaError_t release(void* p) { return cudaFree(p); }
};
struct PinnedMemory {  // page-locked host memory: the only host memory copies overlap with compute from
  static cudaError_t allocate(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }
  static cudaError_t release(void* p) { return cudaFreeHost(p); }
};

// `count` elements of T in Memory, owned (move-only).
template <typename T, typename Memory>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  explicit CudaBuffer(size_t count) : count_(count) {
    if (count > 0) CUDA_CHECK(Memory::allocate(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
  }
  ~CudaBuffer() { reset(); }
  CudaBuffer(CudaBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  CudaBuffer& operator=(CudaBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  T* data() const { return ptr_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }
  // For a DeviceBuffer: a span over device memory, to be passed to kernels, never dereferenced on the host.
  std::span<T> span() const { return {ptr_, count_}; }

 private:
  void reset() {
    if (ptr_ != nullptr) CUDA_CHECK_CLEANUP(Memory::release(ptr_));
    ptr_ = nullptr;
    count_ = 0;
  }
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

template <typename T>
using DeviceBuffer = CudaBuffer<T, DeviceMemory>;
template <typename T>
using PinnedBuffer = CudaBuffer<T, PinnedMemory>;

// A non-blocking stream (does not synchronise with the legacy default stream).
class Stream {
 public:
  Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_ != nullptr) CUDA_CHECK_CLEANUP(cudaStreamDestroy(s_));
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false) {
    CUDA_CHECK(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  }
  ~Event() {
    if (e_ != nullptr) CUDA_CHECK_CLEANUP(cudaEventDestroy(e_));
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&&) = delete;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

// A cuBLAS handle in pure FP32 (CUBLAS_DEFAULT_MATH: no TF32), as the CPU reference computes.
class BlasHandle {
 public:
  BlasHandle() {
    CUBLAS_CHECK(cublasCreate(&h_));
    CUBLAS_CHECK(cublasSetMathMode(h_, CUBLAS_DEFAULT_MATH));
  }
  ~BlasHandle() {
    if (h_ != nullptr) CUBLAS_CHECK_CLEANUP(cublasDestroy(h_));
  }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

}  // namespace fedtrain::kernels::cuda
