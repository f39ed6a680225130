// The GPT as a Model on the GPU: host buffers in and out, CudaGpt in between.
#include "runtime/model/cuda_gpt_model.h"

#include <cstring>

#include "kernels/cuda/device.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/model/cuda_gpt.h"
#include "runtime/model/window_split.h"

namespace fedtrain {

namespace k = kernels::cuda;

struct CudaGptModel::Device {
  explicit Device(const Gpt& model) : gpt(model), params(model.param_count()), loss(1), host_loss(1) {}
  void reserve(size_t positions) {
    if (positions <= inputs.size()) return;
    CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    inputs = k::DeviceBuffer<int32_t>(positions);
    targets = k::DeviceBuffer<int32_t>(positions);
    host_inputs = k::PinnedBuffer<int32_t>(positions);
    host_targets = k::PinnedBuffer<int32_t>(positions);
  }

  k::Stream stream;
  CudaGpt gpt;
  k::DeviceBuffer<float> params, grads;  // grads: at the first forward_backward
  k::DeviceBuffer<int32_t> inputs, targets;
  k::PinnedBuffer<int32_t> host_inputs, host_targets;
  k::DeviceBuffer<double> loss;
  k::PinnedBuffer<double> host_loss;
};

CudaGptModel::CudaGptModel(const GptShape& shape) : host_(shape) {}

CudaGptModel::~CudaGptModel() {
  if (device_) CUDA_CHECK_CLEANUP(cudaStreamSynchronize(device_->stream.get()));
}

CudaGptModel::Device& CudaGptModel::device(int B, int T) {
  if (!device_) device_ = std::make_unique<Device>(host_);
  device_->reserve(static_cast<size_t>(B) * T);
  return *device_;
}

BatchStats CudaGptModel::run(std::span<const float> params, const Batch& batch, float* grads) {
  FT_CHECK(params.size() == host_.param_count() && batch.tokens != nullptr);
  const int B = batch.size, T = batch.context;
  if (B < 1 || T < 1 || T > host_.shape().context)
    throw Error("a batch of " + std::to_string(B) + " windows of " + std::to_string(T) +
                " bytes for a model of context " + std::to_string(host_.shape().context));
  Device& d = device(B, T);
  const cudaStream_t s = d.stream.get();
  const size_t positions = static_cast<size_t>(B) * T;
  split_token_windows(batch.tokens, B, T, d.host_inputs.data(), d.host_targets.data());
  // Pageable params: the copy is staged by the driver and done when it returns, as the caller may reuse them.
  CUDA_CHECK(cudaMemcpyAsync(d.params.data(), params.data(), params.size_bytes(), cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(d.inputs.data(), d.host_inputs.data(), positions * sizeof(int32_t),
                             cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(d.targets.data(), d.host_targets.data(), positions * sizeof(int32_t),
                             cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemsetAsync(d.loss.data(), 0, d.loss.bytes(), s));
  if (grads != nullptr) {
    if (d.grads.size() == 0) d.grads = k::DeviceBuffer<float>(host_.param_count());
    d.gpt.forward_backward(s, d.params.data(), d.inputs.data(), d.targets.data(), B, T, d.grads.data(), d.loss.data());
    CUDA_CHECK(cudaMemcpyAsync(grads, d.grads.data(), d.grads.bytes(), cudaMemcpyDeviceToHost, s));
  } else {
    d.gpt.evaluate(s, d.params.data(), d.inputs.data(), d.targets.data(), B, T, d.loss.data());
  }
  CUDA_CHECK(cudaMemcpyAsync(d.host_loss.data(), d.loss.data(), d.loss.bytes(), cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
  BatchStats stats;
  stats.loss_sum = d.host_loss.data()[0];
  stats.samples = static_cast<int64_t>(positions);
  return stats;
}

BatchStats CudaGptModel::forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) {
  FT_CHECK(grads.size() == host_.param_count());
  return run(params, batch, grads.data());
}

BatchStats CudaGptModel::evaluate(std::span<const float> params, const Batch& batch) {
  return run(params, batch, nullptr);
}

}  // namespace fedtrain
