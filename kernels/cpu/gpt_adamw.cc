// AdamW over a parameter vector whose ranges are decayed or not: cpu::adamw_step per run of ranges.
#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

void adamw_step_masked(float* params, const float* grads, float* m, float* v, std::span<const ParamRange> ranges,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  for_each_decay_run(ranges, [&](size_t o, size_t count, bool decay) {
    adamw_step(params + o, grads + o, m + o, v + o, count, lr, beta1, beta2, eps, decay ? weight_decay : 0.0f, step);
  });
}

}  // namespace fedtrain::kernels::cpu
