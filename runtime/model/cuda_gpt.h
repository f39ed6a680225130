// The GPT of gpt.h on the GPU: the same layers, parameter layout and kernel sequence, on device buffers.
//
// Forward and backward follow Gpt (the CPU reference, runtime/model/gpt.cc) call for call, each CPU
// kernel replaced by its twin in kernels/cuda/gpt_kernels.h (cuBLAS SGEMMs in pure FP32), so that a GPU
// step and a CPU step differ only by the rounding of their sums. Parameters and gradients are one flat
// device buffer each, in Gpt::layout() order: the host copy that the federation exchanges and checkpoints
// is byte-for-byte the CPU model's. Everything is enqueued on the caller's stream; the loss sums in device
// memory, so a step needs no synchronisation with the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cuda/device.h"
#include "runtime/model/gpt.h"

namespace fedtrain {

class CudaGpt {
 public:
  // `model` gives shape and layout and must outlive this. Uses the current device.
  explicit CudaGpt(const Gpt& model);

  // params and grads: device buffers in model.layout(), grads overwritten with the gradient of the mean
  // loss over the B*T predictions; inputs and targets (B,T) token ids on the device (split_token_windows),
  // T in 1..context. *loss_sum (device) += the summed loss in nats.
  void forward_backward(cudaStream_t stream, const float* params, const int32_t* inputs, const int32_t* targets,
                        int B, int T, float* grads, double* loss_sum);
  // The loss only (no gradient): *loss_sum (device) += the summed loss of the B*T predictions.
  void evaluate(cudaStream_t stream, const float* params, const int32_t* inputs, const int32_t* targets, int B, int T,
                double* loss_sum);

  const Gpt& model() const { return model_; }

 private:
  struct Block {  // element offsets of one block's tensors in the flat buffers
    size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
  };
  using Buffer = kernels::cuda::DeviceBuffer<float>;
  struct Acts {  // one block's saved activations, as Gpt::Acts
    Buffer x, ln1, ln1_mean, ln1_rstd, qkv, att, atty, x_mid, ln2, ln2_mean, ln2_rstd, fch, fch_gelu;
  };
  void reserve(int B);
  void forward(cudaStream_t stream, const float* params, const int32_t* inputs, const int32_t* targets, int B, int T,
               bool backward, double* loss_sum);
  void forward_block(cudaStream_t stream, const float* params, size_t l, int B, int T, float* out);
  void backward(cudaStream_t stream, const float* params, const int32_t* inputs, int B, int T, float* grads);
  // dres holds d(loss)/d(block l's output) and leaves with d(loss)/d(its input); dnext is scratch.
  void backward_block(cudaStream_t stream, const float* params, size_t l, int B, int T, float* grads, float* dres,
                      float* dnext);

  const Gpt& model_;
  const int L_, H_, D_, T_max_;
  size_t wte_, wpe_, lnfw_, lnfb_;
  std::vector<Block> blocks_;
  kernels::cuda::BlasHandle blas_;
  int capacity_ = 0;  // B the buffers are sized for
  std::vector<Acts> acts_;
  Buffer x_final_, lnf_, lnf_mean_, lnf_rstd_, logits_, dlogits_;
  Buffer dres_a_, dres_b_, dln_, dqkv_, datty_, dfch_, dfch_gelu_, dscratch_;  // backward scratch
  kernels::cuda::DeviceBuffer<double> row_loss_;
  kernels::cuda::DeviceBuffer<int32_t> row_hit_;
  kernels::cuda::DeviceBuffer<int64_t> hits_;  // argmax hits: accumulate_rows wants them; a language model ignores them
};

}  // namespace fedtrain
