// LayerNorm over the channels of each row: forward (saving mean and 1/std) and backward.
//
// Backward, per row, with xhat = (x - mean) * rstd and g = dout * weight:
//   dinp = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dweight += dout * xhat,  dbias += dout.
// Row sums run in kLanes partial sums (added in a fixed order at the end), so that the loops vectorise
// without reassociating float arithmetic; both loops are compiled for three SIMD levels (isa_dispatch.h).
#include <cmath>

#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

namespace {

constexpr float kEps = 1e-5f;
constexpr int kLanes = 16;

[[gnu::always_inline]] inline float lane_total(const float* lane) {
  float s = 0.0f;
  for (int j = 0; j < kLanes; ++j) s += lane[j];
  return s;
}

[[gnu::always_inline]] inline void forward_rows(float* out, float* mean, float* rstd, const float* inp,
                                                const float* weight, const float* bias, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * C;
    float* o = out + static_cast<size_t>(n) * C;
    float lane[kLanes] = {};
    int c = 0;
    for (; c + kLanes <= C; c += kLanes)
      for (int j = 0; j < kLanes; ++j) lane[j] += x[c + j];
    for (; c < C; ++c) lane[0] += x[c];
    const float m = lane_total(lane) / static_cast<float>(C);
    float sq[kLanes] = {};  // a second pass: no cancellation when |mean| >> std
    for (c = 0; c + kLanes <= C; c += kLanes)
      for (int j = 0; j < kLanes; ++j) sq[j] += (x[c + j] - m) * (x[c + j] - m);
    for (; c < C; ++c) sq[0] += (x[c] - m) * (x[c] - m);
    const float s = 1.0f / std::sqrt(lane_total(sq) / static_cast<float>(C) + kEps);
    for (c = 0; c < C; ++c) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

// dinp = dresidual + the gradient through the row, or dinp += it where dresidual is null.
[[gnu::always_inline]] inline void backward_rows(float* dinp, const float* dresidual, float* dweight, float* dbias,
                                                 const float* dout, const float* inp, const float* weight,
                                                 const float* mean, const float* rstd, int N, int C) {
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * C;
    const float* d = dout + static_cast<size_t>(n) * C;
    float* di = dinp + static_cast<size_t>(n) * C;
    const float* r = dresidual != nullptr ? dresidual + static_cast<size_t>(n) * C : di;
    const float m = mean[n], s = rstd[n];
    float g_lane[kLanes] = {}, gx_lane[kLanes] = {};
    int c = 0;
    for (; c + kLanes <= C; c += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float g = d[c + j] * weight[c + j];
        g_lane[j] += g;
        gx_lane[j] += g * (x[c + j] - m) * s;
      }
    for (; c < C; ++c) {
      const float g = d[c] * weight[c];
      g_lane[0] += g;
      gx_lane[0] += g * (x[c] - m) * s;
    }
    const float g_mean = lane_total(g_lane) / static_cast<float>(C);
    const float gx_mean = lane_total(gx_lane) / static_cast<float>(C);
    for (c = 0; c < C; ++c) {
      const float xhat = (x[c] - m) * s;
      di[c] = r[c] + s * (d[c] * weight[c] - g_mean - xhat * gx_mean);
    }
    for (c = 0; c < C; ++c) {
      dweight[c] += d[c] * ((x[c] - m) * s);
      dbias[c] += d[c];
    }
  }
}

using ForwardFn = void (*)(float*, float*, float*, const float*, const float*, const float*, int, int);
using BackwardFn = void (*)(float*, const float*, float*, float*, const float*, const float*, const float*,
                            const float*, const float*, int, int);

void forward_base(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int N,
                  int C) {
  forward_rows(out, mean, rstd, inp, w, b, N, C);
}
FEDTRAIN_TARGET_AVX2 void forward_avx2(float* out, float* mean, float* rstd, const float* inp, const float* w,
                                       const float* b, int N, int C) {
  forward_rows(out, mean, rstd, inp, w, b, N, C);
}
FEDTRAIN_TARGET_AVX512 void forward_avx512(float* out, float* mean, float* rstd, const float* inp, const float* w,
                                           const float* b, int N, int C) {
  forward_rows(out, mean, rstd, inp, w, b, N, C);
}

void backward_base(float* dinp, const float* dres, float* dw, float* db, const float* dout, const float* inp, const float* w,
                   const float* mean, const float* rstd, int N, int C) {
  backward_rows(dinp, dres, dw, db, dout, inp, w, mean, rstd, N, C);
}
FEDTRAIN_TARGET_AVX2 void backward_avx2(float* dinp, const float* dres, float* dw, float* db, const float* dout, const float* inp,
                                        const float* w, const float* mean, const float* rstd, int N, int C) {
  backward_rows(dinp, dres, dw, db, dout, inp, w, mean, rstd, N, C);
}
FEDTRAIN_TARGET_AVX512 void backward_avx512(float* dinp, const float* dres, float* dw, float* db, const float* dout, const float* inp,
                                            const float* w, const float* mean, const float* rstd, int N, int C) {
  backward_rows(dinp, dres, dw, db, dout, inp, w, mean, rstd, N, C);
}

}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C) {
  static const ForwardFn fn = pick_isa<ForwardFn>(&forward_base, &forward_avx2, &forward_avx512);
  fn(out, mean, rstd, inp, weight, bias, N, C);
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C) {
  static const BackwardFn fn = pick_isa<BackwardFn>(&backward_base, &backward_avx2, &backward_avx512);
  fn(dinp, nullptr, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void layernorm_backward_residual(float* dinp, const float* dresidual, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, const float* mean, const float* rstd, int N,
                                 int C) {
  static const BackwardFn fn = pick_isa<BackwardFn>(&backward_base, &backward_avx2, &backward_avx512);
  fn(dinp, dresidual, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

}  // namespace fedtrain::kernels::cpu
