// One inner step's model work on the GPU: the MLP's and the GPT's.
#include "runtime/site/cuda_device_step.h"

#include <cstring>
#include <string>

#include "kernels/cuda/device.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/model/cuda_gpt.h"
#include "runtime/model/cuda_gpt_model.h"
#include "runtime/model/cuda_mlp.h"
#include "runtime/model/window_split.h"

namespace fedtrain {
namespace {

namespace k = kernels::cuda;

// Images (B, features) and labels (B).
class MlpStep final : public DeviceStep {
 public:
  MlpStep(const Mlp& model, int B)
      : mlp_(model), B_(B), x_(static_cast<size_t>(B) * model.input_dim()), y_(B), correct_(1) {
    for (int s = 0; s < 2; ++s) {
      host_x_[s] = k::PinnedBuffer<float>(x_.size());
      host_y_[s] = k::PinnedBuffer<int32_t>(y_.size());
    }
  }
  void stage(int slot, const Batch& batch) override {
    FT_CHECK(batch.size == B_ && batch.x != nullptr && batch.labels != nullptr);
    std::memcpy(host_x_[slot].data(), batch.x, host_x_[slot].bytes());
    std::memcpy(host_y_[slot].data(), batch.labels, host_y_[slot].bytes());
  }
  void run(cudaStream_t s, int slot, const float* params, float* grads, double* loss_sum) override {
    CUDA_CHECK(cudaMemcpyAsync(x_.data(), host_x_[slot].data(), x_.bytes(), cudaMemcpyHostToDevice, s));
    CUDA_CHECK(cudaMemcpyAsync(y_.data(), host_y_[slot].data(), y_.bytes(), cudaMemcpyHostToDevice, s));
    mlp_.forward_backward(s, params, x_.data(), y_.data(), B_, grads, loss_sum, correct_.data());
  }
  int64_t samples_per_step() const override { return B_; }

 private:
  CudaMlp mlp_;
  const int B_;
  k::DeviceBuffer<float> x_;
  k::DeviceBuffer<int32_t> y_;
  k::DeviceBuffer<int64_t> correct_;  // argmax hits; the trainer reports the loss only
  k::PinnedBuffer<float> host_x_[2];
  k::PinnedBuffer<int32_t> host_y_[2];
};

// Token windows (B, T+1), split on the host into inputs and targets (B,T) as the CPU model splits them.
class GptStep final : public DeviceStep {
 public:
  GptStep(const Gpt& model, int B)
      : gpt_(model), B_(B), T_(model.shape().context), inputs_(positions()), targets_(positions()) {
    for (int s = 0; s < 2; ++s) {
      host_inputs_[s] = k::PinnedBuffer<int32_t>(positions());
      host_targets_[s] = k::PinnedBuffer<int32_t>(positions());
    }
  }
  void stage(int slot, const Batch& batch) override {
    FT_CHECK(batch.size == B_ && batch.context == T_ && batch.tokens != nullptr);
    split_token_windows(batch.tokens, B_, T_, host_inputs_[slot].data(), host_targets_[slot].data());
  }
  void run(cudaStream_t s, int slot, const float* params, float* grads, double* loss_sum) override {
    CUDA_CHECK(cudaMemcpyAsync(inputs_.data(), host_inputs_[slot].data(), inputs_.bytes(), cudaMemcpyHostToDevice, s));
    CUDA_CHECK(
        cudaMemcpyAsync(targets_.data(), host_targets_[slot].data(), targets_.bytes(), cudaMemcpyHostToDevice, s));
    gpt_.forward_backward(s, params, inputs_.data(), targets_.data(), B_, T_, grads, loss_sum);
  }
  int64_t samples_per_step() const override { return static_cast<int64_t>(positions()); }

 private:
  size_t positions() const { return static_cast<size_t>(B_) * T_; }

  CudaGpt gpt_;
  const int B_, T_;
  k::DeviceBuffer<int32_t> inputs_, targets_;
  k::PinnedBuffer<int32_t> host_inputs_[2], host_targets_[2];
};

}  // namespace

std::unique_ptr<DeviceStep> make_device_step(Model& model, int batch_size) {
  if (auto* mlp = dynamic_cast<const Mlp*>(&model)) return std::make_unique<MlpStep>(*mlp, batch_size);
  if (auto* gpt = dynamic_cast<const CudaGptModel*>(&model)) return std::make_unique<GptStep>(gpt->host(), batch_size);
  if (auto* gpt = dynamic_cast<const Gpt*>(&model)) return std::make_unique<GptStep>(*gpt, batch_size);
  throw ConfigError("run.device = cuda: the GPU trainer runs the MLP and the GPT, and this model is " +
                    model.describe() + "; set run.device = cpu");
}

}  // namespace fedtrain
