// The GPT as a Model whose forward+backward and evaluation run on the GPU: what make_model gives for
// model.kind = gpt with run.device = cuda.
//
// Layout, initialisation and description are the CPU model's (host()), so checkpoints, the federation's
// exchange and `fedtrain generate` see one model whatever the device. The Model calls take and return
// host buffers: each copies the parameters to the device, runs CudaGpt there on a stream of its own and
// copies the loss (and the gradient) back before it returns. That is the evaluator's path (the global
// model on the site's validation windows); the GPU site trainer keeps parameters on the device and runs a
// CudaGpt of its own on its stream. Device memory is taken at the first call, so that the GPU plan_devices
// picks is current by then.
#pragma once

#include <memory>

#include "runtime/model/gpt.h"
#include "runtime/model/model.h"

namespace fedtrain {

class CudaGptModel final : public Model {
 public:
  explicit CudaGptModel(const GptShape& shape);
  ~CudaGptModel() override;

  const Gpt& host() const { return host_; }

  std::string describe() const override { return host_.describe(); }
  const ParamLayout& layout() const override { return host_.layout(); }
  int64_t forward_macs_per_sample() const override { return host_.forward_macs_per_sample(); }
  void init(std::span<float> params, uint64_t seed) const override { host_.init(params, seed); }
  BatchStats forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) override;
  BatchStats evaluate(std::span<const float> params, const Batch& batch) override;

 private:
  struct Device;  // the stream, the device model and its buffers (cuda_gpt_model.cc)
  Device& device(int B, int T);
  BatchStats run(std::span<const float> params, const Batch& batch, float* grads);

  Gpt host_;
  std::unique_ptr<Device> device_;
};

}  // namespace fedtrain
