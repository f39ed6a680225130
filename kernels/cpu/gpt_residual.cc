// The residual connection of a transformer block: out = a + b, and its gradient to both inputs.
#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

void residual_forward(float* out, const float* a, const float* b, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void residual_backward(float* da, float* db, const float* dout, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

}  // namespace fedtrain::kernels::cpu
