// Token plus position embedding of a GPT: forward lookup and backward scatter-add.
#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const size_t n = static_cast<size_t>(b) * T + t;
      float* o = out + n * C;
      const float* tok = wte + static_cast<size_t>(tokens[n]) * C;
      const float* pos = wpe + static_cast<size_t>(t) * C;
      for (int c = 0; c < C; ++c) o[c] = tok[c] + pos[c];
    }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C,
                        int /*V: the CUDA twin's grid; tokens are in [0, V)*/) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const size_t n = static_cast<size_t>(b) * T + t;
      const float* d = dout + n * C;
      float* dtok = dwte + static_cast<size_t>(tokens[n]) * C;
      float* dpos = dwpe + static_cast<size_t>(t) * C;
      for (int c = 0; c < C; ++c) {
        dtok[c] += d[c];
        dpos[c] += d[c];
      }
    }
}

}  // namespace fedtrain::kernels::cpu
