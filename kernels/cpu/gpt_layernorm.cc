// LayerNorm over the channels of each row: forward (saving mean and 1/std) and backward.
//
// Backward, per row, with xhat = (x - mean) * rstd and g = dout * weight:
//   dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dweight += dout * xhat,  dbias += dout.
#include <cmath>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

namespace {
constexpr float kEps = 1e-5f;
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * C;
    float* o = out + static_cast<size_t>(n) * C;
    float sum = 0.0f;
    for (int c = 0; c < C; ++c) sum += x[c];
    const float m = sum / static_cast<float>(C);
    float sq = 0.0f;  // two passes: no cancellation when |mean| >> std
    for (int c = 0; c < C; ++c) sq += (x[c] - m) * (x[c] - m);
    const float s = 1.0f / std::sqrt(sq / static_cast<float>(C) + kEps);
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * C;
    const float* d = dout + static_cast<size_t>(n) * C;
    float* di = dinp + static_cast<size_t>(n) * C;
    const float m = mean[n], s = rstd[n];
    float g_sum = 0.0f, gx_sum = 0.0f;
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      const float g = d[c] * weight[c];
      g_sum += g;
      gx_sum += g * xhat;
      dweight[c] += d[c] * xhat;
      dbias[c] += d[c];
    }
    const float g_mean = g_sum / static_cast<float>(C), gx_mean = gx_sum / static_cast<float>(C);
    for (int c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      di[c] += s * (d[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
}

}  // namespace fedtrain::kernels::cpu
