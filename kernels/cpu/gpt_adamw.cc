// AdamW over a parameter vector whose ranges are decayed or not: cpu::adamw_step per run of ranges.
#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

void adamw_step_masked(float* params, const float* grads, float* m, float* v, std::span<const ParamRange> ranges,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  for (size_t i = 0; i < ranges.size();) {
    // Merge the ranges that follow on without a gap and carry the same flag.
    const ParamRange& first = ranges[i];
    size_t count = first.count;
    for (++i; i < ranges.size() && ranges[i].decay == first.decay && ranges[i].offset == first.offset + count; ++i)
      count += ranges[i].count;
    const size_t o = first.offset;
    adamw_step(params + o, grads + o, m + o, v + o, count, lr, beta1, beta2, eps, first.decay ? weight_decay : 0.0f,
               step);
  }
}

}  // namespace fedtrain::kernels::cpu
