// Causal multi-head self-attention through sgemm, in blocks of query rows that skip the masked triangle.
//
// Per sequence b and head h, with Q, K, V the (T,hs) slices of qkv (row stride 3C) and s = 1/sqrt(hs):
//   forward:  P = softmax_causal(s Q K^T) (T,T), saved as att;  O = P V (T,hs), row stride C in out
//   backward: dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(P * dP));  dQ += s dS K;  dK += s dS^T Q
// Query rows t in [r0, r1) attend only to keys s < r1, so each block of kRows query rows multiplies
// (r1-r0, hs) by (hs, r1) instead of (hs, T): about half the work of the full products at large T.
// Inside a block the products still cover keys r0 < s < r1 above the diagonal; their probabilities are
// exactly 0, so they add nothing. Each head's keys (forward) and values (backward) are first transposed
// into a (hs,T) buffer, so that s Q K^T and dO V^T are NN sgemms. The softmax loops are compiled for three
// SIMD levels (isa_dispatch.h).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/gpt_exp.h"
#include "kernels/cpu/gpt_kernels.h"
#include "kernels/cpu/gpt_row_ops.h"
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

namespace {

constexpr int kRows = 32;  // query rows per block: 32 measured fastest of 16..128 at T = 128..512

// Rows r0..r1-1 of P (row stride T, pb the first), in place: softmax over row t's keys 0..t; keys t+1..T-1 = 0.
[[gnu::always_inline]] inline void softmax_block(float* pb, int r0, int r1, int T) {
  for (int t = r0; t < r1; ++t) {
    float* row = pb + static_cast<size_t>(t - r0) * T;
    const int n = t + 1;
    const float max = rows::max(row, n);
    for (int s = 0; s < n; ++s) row[s] = exp_nonpositive(row[s] - max);
    const float inv = 1.0f / rows::sum(row, n);  // the sum is >= 1: the maximum contributes exp(0)
    for (int s = 0; s < n; ++s) row[s] *= inv;
    for (int s = n; s < T; ++s) row[s] = 0.0f;
  }
}

// Rows r0..r1-1 of dP in, dS out (row stride T, db the first), keys 0..r1-1:
// p * (d - sum(p * d)) for keys s <= t, 0 for t < s < r1.
[[gnu::always_inline]] inline void softmax_backward_block(float* db, const float* pb, int r0, int r1, int T) {
  for (int t = r0; t < r1; ++t) {
    float* d = db + static_cast<size_t>(t - r0) * T;
    const float* p = pb + static_cast<size_t>(t - r0) * T;
    const float dot = rows::dot(p, d, t + 1);
    for (int s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - dot);
    for (int s = t + 1; s < r1; ++s) d[s] = 0.0f;
  }
}

// dst (hs,T) = src (T,hs)^T, src with row stride ld: a head's keys or values, transposed so that the
// products with them are NN sgemms (about 1.5x the speed of NT ones at these shapes in OpenBLAS 0.3.21).
void transpose_head(float* dst, const float* src, int T, int hs, int ld) {
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < hs; ++i) dst[static_cast<size_t>(i) * T + t] = src[static_cast<size_t>(t) * ld + i];
}

using SoftmaxFn = void (*)(float*, int, int, int);
using SoftmaxBackwardFn = void (*)(float*, const float*, int, int, int);

void softmax_base(float* pb, int r0, int r1, int T) { softmax_block(pb, r0, r1, T); }
FEDTRAIN_TARGET_AVX2 void softmax_avx2(float* pb, int r0, int r1, int T) { softmax_block(pb, r0, r1, T); }
FEDTRAIN_TARGET_AVX512 void softmax_avx512(float* pb, int r0, int r1, int T) { softmax_block(pb, r0, r1, T); }

void softmax_backward_base(float* db, const float* pb, int r0, int r1, int T) {
  softmax_backward_block(db, pb, r0, r1, T);
}
FEDTRAIN_TARGET_AVX2 void softmax_backward_avx2(float* db, const float* pb, int r0, int r1, int T) {
  softmax_backward_block(db, pb, r0, r1, T);
}
FEDTRAIN_TARGET_AVX512 void softmax_backward_avx512(float* db, const float* pb, int r0, int r1, int T) {
  softmax_backward_block(db, pb, r0, r1, T);
}

}  // namespace

void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int H) {
  static const SoftmaxFn softmax = pick_isa<SoftmaxFn>(&softmax_base, &softmax_avx2, &softmax_avx512);
  const int hs = C / H;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  std::vector<float> kt(static_cast<size_t>(hs) * T);  // (hs,T): this head's keys, transposed
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const float* q = qkv + static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;  // (T,hs), stride 3C
      const float* v = q + 2 * C;
      transpose_head(kt.data(), q + C, T, hs, C3);
      float* p = att + (static_cast<size_t>(b) * H + h) * T * T;                            // (T,T)
      float* o = out + static_cast<size_t>(b) * T * C + static_cast<size_t>(h) * hs;         // (T,hs), stride C
      for (int r0 = 0; r0 < T; r0 += kRows) {
        const int r1 = std::min(T, r0 + kRows), rows = r1 - r0;
        float* pb = p + static_cast<size_t>(r0) * T;
        // pb[:, 0:r1] (rows,r1) = scale * q[r0:r1] (rows,hs) . kt[:, 0:r1] (hs,r1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, r1, hs, scale, q + static_cast<size_t>(r0) * C3,
                    C3, kt.data(), T, 0.0f, pb, T);
        softmax(pb, r0, r1, T);
        // o[r0:r1] (rows,hs) = pb[:, 0:r1] (rows,r1) . v[0:r1] (r1,hs)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, r1, 1.0f, pb, T, v, C3, 0.0f,
                    o + static_cast<size_t>(r0) * C, C);
      }
    }
}

void attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                        int T, int C, int H) {
  static const SoftmaxBackwardFn softmax_backward =
      pick_isa<SoftmaxBackwardFn>(&softmax_backward_base, &softmax_backward_avx2, &softmax_backward_avx512);
  const int hs = C / H;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  std::vector<float> vt(static_cast<size_t>(hs) * T);  // (hs,T): this head's values, transposed
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const size_t qkv_at = static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      const float* q = qkv + qkv_at;  // (T,hs), stride 3C; likewise k, v, dq, dk, dv
      const float* k = q + C;
      transpose_head(vt.data(), q + 2 * C, T, hs, C3);
      float* dq = dqkv + qkv_at;
      float* dk = dq + C;
      float* dv = dq + 2 * C;
      const float* p = att + (static_cast<size_t>(b) * H + h) * T * T;                        // (T,T)
      float* ds = scratch + (static_cast<size_t>(b) * H + h) * T * T;                        // (T,T)
      const float* dO = dout + static_cast<size_t>(b) * T * C + static_cast<size_t>(h) * hs;  // (T,hs), stride C
      for (int r0 = 0; r0 < T; r0 += kRows) {
        const int r1 = std::min(T, r0 + kRows), rows = r1 - r0;
        const float* pb = p + static_cast<size_t>(r0) * T;
        float* db = ds + static_cast<size_t>(r0) * T;
        const float* dOb = dO + static_cast<size_t>(r0) * C;
        // dv[0:r1] (r1,hs) += pb^T (r1,rows) . dO[r0:r1] (rows,hs)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, rows, 1.0f, pb, T, dOb, C, 1.0f, dv, C3);
        // db[:, 0:r1] (rows,r1) = dO[r0:r1] (rows,hs) . vt[:, 0:r1] (hs,r1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, r1, hs, 1.0f, dOb, C, vt.data(), T, 0.0f, db, T);
        softmax_backward(db, pb, r0, r1, T);
        // dq[r0:r1] (rows,hs) += scale * db (rows,r1) . k[0:r1] (r1,hs)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, r1, scale, db, T, k, C3, 1.0f,
                    dq + static_cast<size_t>(r0) * C3, C3);
        // dk[0:r1] (r1,hs) += scale * db^T (r1,rows) . q[r0:r1] (rows,hs)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, rows, scale, db, T,
                    q + static_cast<size_t>(r0) * C3, C3, 1.0f, dk, C3);
      }
    }
}

}  // namespace fedtrain::kernels::cpu
