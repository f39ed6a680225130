// AdamW with a decay mask on the GPU: cuda::adamw_step per run of ranges, as the CPU twin cuts them.
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/kernels.h"

namespace fedtrain::kernels::cuda {

void adamw_step_masked(cudaStream_t stream, float* params, const float* grads, float* m, float* v,
                       std::span<const ParamRange> ranges, float lr, float beta1, float beta2, float eps,
                       float weight_decay, int64_t step) {
  cpu::for_each_decay_run(ranges, [&](size_t o, size_t count, bool decay) {
    adamw_step(stream, params + o, grads + o, m + o, v + o, count, lr, beta1, beta2, eps,
               decay ? weight_decay : 0.0f, step);
  });
}

}  // namespace fedtrain::kernels::cuda
