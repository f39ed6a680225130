// MLP classifier forward and backward on the GPU: the model of mlp.h, on device buffers, through kernels/cuda.
//
// Same layers, same parameter layout and the same sequence of kernels as
// Mlp::forward_backward (the CPU reference), so a GPU step and a CPU step
// differ only by the rounding of their sums. Everything is enqueued on the
// caller's stream; the loss and hit counts accumulate in device memory, so a
// step needs no synchronisation with the host.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/device.h"
#include "runtime/model/mlp.h"

namespace fedtrain {

class CudaMlp {
 public:
  // `model` gives shapes and layout and must outlive this. Uses the current device.
  explicit CudaMlp(const Mlp& model);

  // params and grads: device buffers in model.layout() (grads overwritten with
  // the gradient of the mean loss); x (B, input_dim), labels (B) on the device.
  // *loss_sum += summed loss, *correct += argmax hits (device accumulators).
  void forward_backward(cudaStream_t stream, const float* params, const float* x, const int32_t* labels, int B,
                        float* grads, double* loss_sum, int64_t* correct);

  // Multiply-adds of one sample's forward pass.
  int64_t forward_macs_per_sample() const { return model_.forward_macs_per_sample(); }

 private:
  void reserve(int B);

  const Mlp& model_;
  std::vector<int> dims_;  // input, hidden..., classes
  kernels::cuda::BlasHandle blas_;
  int capacity_ = 0;
  std::vector<kernels::cuda::DeviceBuffer<float>> acts_;  // acts_[i] (B, dims_[i+1]): output of layer i
  kernels::cuda::DeviceBuffer<float> dlogits_, dbuf_a_, dbuf_b_;
  kernels::cuda::DeviceBuffer<double> row_loss_;
  kernels::cuda::DeviceBuffer<int32_t> row_hit_;
};

}  // namespace fedtrain
