// One inner step's model work on the GPU site trainer's stream: the loader's batch to the device, then
// forward and backward into the flat device gradient buffer. One implementation per model the GPU
// trainer runs: the MLP (images and labels, CudaMlp) and the GPT (token windows, CudaGpt).
//
// A step's batch goes through one of two pinned host slots: stage() fills a slot on the host (the trainer
// has waited for the step that last used it), run() enqueues its copy to the device and the model's
// kernels, so the host fills the next batch while the GPU runs this one.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "runtime/model/model.h"

namespace fedtrain {

class DeviceStep {
 public:
  virtual ~DeviceStep() = default;
  // Copies `batch` (the loader's, of the trainer's batch size) into pinned slot 0 or 1.
  virtual void stage(int slot, const Batch& batch) = 0;
  // Enqueues on `stream`: the slot's batch to the device, forward and backward of the model at `params`
  // into `grads` (device buffers in the model's layout), and *loss_sum (device) += the summed loss.
  virtual void run(cudaStream_t stream, int slot, const float* params, float* grads, double* loss_sum) = 0;
  // Scored predictions per step: images, or predicted bytes (windows x context).
  virtual int64_t samples_per_step() const = 0;
};

// The step of `model` (an Mlp, a Gpt or a CudaGptModel; it must outlive the step) for batches of
// `batch_size`, on the current device. Throws ConfigError for a model the GPU trainer does not run.
std::unique_ptr<DeviceStep> make_device_step(Model& model, int batch_size);

}  // namespace fedtrain
