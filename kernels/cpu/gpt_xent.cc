// Softmax cross-entropy of a GPT's logits against its targets, the gradient written over the logits.
//
// Per row z (V) with target y: m = max z, e_v = exp(z_v - m) (exp_nonpositive), S = sum e;
//   loss += log S - (z_y - m)  (in double);  gradient: z_v := (e_v / S - [v == y]) / N.
// The same function as softmax_xent (kernels.h), which takes exp in double per element through the library
// (two calls per logit): here the exps are float and vectorised, and the gradient needs no buffer of its
// own. The results differ from softmax_xent's at float rounding level. Compiled for three SIMD levels.
#include <cmath>

#include "kernels/cpu/gpt_exp.h"
#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/gpt_row_ops.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

namespace {

[[gnu::always_inline]] inline double xent_rows(float* logits, const int32_t* targets, int N, int V, bool gradient) {
  const float inv_n = 1.0f / static_cast<float>(N);
  double loss_sum = 0.0;
  for (int n = 0; n < N; ++n) {
    float* z = logits + static_cast<size_t>(n) * V;
    const int y = targets[n];
    const float max = rows::max(z, V);
    const float zy = z[y] - max;
    float lane[rows::kLanes] = {};
    int v = 0;
    if (gradient) {
      for (; v + rows::kLanes <= V; v += rows::kLanes)
        for (int j = 0; j < rows::kLanes; ++j) lane[j] += z[v + j] = exp_nonpositive(z[v + j] - max);
      for (; v < V; ++v) lane[0] += z[v] = exp_nonpositive(z[v] - max);
    } else {
      for (; v + rows::kLanes <= V; v += rows::kLanes)
        for (int j = 0; j < rows::kLanes; ++j) lane[j] += exp_nonpositive(z[v + j] - max);
      for (; v < V; ++v) lane[0] += exp_nonpositive(z[v] - max);
    }
    float sum = 0.0f;
    for (int j = 0; j < rows::kLanes; ++j) sum += lane[j];  // >= 1: the maximum contributes exp(0)
    loss_sum += std::log(static_cast<double>(sum)) - static_cast<double>(zy);
    if (gradient) {
      const float inv = 1.0f / sum;
      const float p_y = z[y] * inv;
      for (v = 0; v < V; ++v) z[v] = z[v] * inv * inv_n;
      z[y] = (p_y - 1.0f) * inv_n;
    }
  }
  return loss_sum;
}

using XentFn = double (*)(float*, const int32_t*, int, int, bool);

double xent_base(float* z, const int32_t* y, int N, int V, bool g) { return xent_rows(z, y, N, V, g); }
FEDTRAIN_TARGET_AVX2 double xent_avx2(float* z, const int32_t* y, int N, int V, bool g) {
  return xent_rows(z, y, N, V, g);
}
FEDTRAIN_TARGET_AVX512 double xent_avx512(float* z, const int32_t* y, int N, int V, bool g) {
  return xent_rows(z, y, N, V, g);
}

}  // namespace

double softmax_xent_inplace(float* logits, const int32_t* targets, int N, int V, bool gradient) {
  static const XentFn fn = pick_isa<XentFn>(&xent_base, &xent_avx2, &xent_avx512);
  return fn(logits, targets, N, V, gradient);
}

}  // namespace fedtrain::kernels::cpu
