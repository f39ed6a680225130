// Causal multi-head self-attention through sgemm, in blocks of query rows that skip the masked triangle.
//
// Per sequence b and head h, with Q, K, V the (T,hs) slices of qkv (row stride 3C) and s = 1/sqrt(hs):
//   forward:  P = softmax_causal(s Q K^T) (T,T), saved as att;  O = P V (T,hs), row stride C in out
//   backward: dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(P * dP));  dQ += s dS K;  dK += s dS^T Q
// Query rows t in [r0, r1) attend only to keys s < r1, so each block of kRows query rows multiplies
// (r1-r0, hs) by (hs, r1) instead of (hs, T): about half the work of the full products at large T.
// Inside a block the products still cover keys r0 < s < r1 above the diagonal; their probabilities are
// exactly 0, so they add nothing.
#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

namespace {

constexpr int kRows = 64;  // query rows per block

// row (T): in place, softmax over row[0..t]; row[t+1..T-1] = 0.
void causal_softmax_row(float* row, int t, int T) {
  float max = row[0];
  for (int s = 1; s <= t; ++s) max = std::max(max, row[s]);
  float sum = 0.0f;
  for (int s = 0; s <= t; ++s) {
    row[s] = std::exp(row[s] - max);
    sum += row[s];
  }
  const float inv = 1.0f / sum;
  for (int s = 0; s <= t; ++s) row[s] *= inv;
  for (int s = t + 1; s < T; ++s) row[s] = 0.0f;
}

// d (r1) = dP row t in, dS row t out: p * (d - sum(p * d)) for s <= t, 0 for t < s < r1.
void causal_softmax_backward_row(float* d, const float* p, int t, int r1) {
  float dot = 0.0f;
  for (int s = 0; s <= t; ++s) dot += p[s] * d[s];
  for (int s = 0; s <= t; ++s) d[s] = p[s] * (d[s] - dot);
  for (int s = t + 1; s < r1; ++s) d[s] = 0.0f;
}

}  // namespace

void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int H) {
  const int hs = C / H;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const float* q = qkv + static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;  // (T,hs), stride 3C
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* p = att + (static_cast<size_t>(b) * H + h) * T * T;                            // (T,T)
      float* o = out + static_cast<size_t>(b) * T * C + static_cast<size_t>(h) * hs;         // (T,hs), stride C
      for (int r0 = 0; r0 < T; r0 += kRows) {
        const int r1 = std::min(T, r0 + kRows), rows = r1 - r0;
        float* pb = p + static_cast<size_t>(r0) * T;
        // pb[:, 0:r1] (rows,r1) = scale * q[r0:r1] (rows,hs) . k[0:r1]^T (hs,r1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, r1, hs, scale, q + static_cast<size_t>(r0) * C3,
                    C3, k, C3, 0.0f, pb, T);
        for (int t = r0; t < r1; ++t) causal_softmax_row(p + static_cast<size_t>(t) * T, t, T);
        // o[r0:r1] (rows,hs) = pb[:, 0:r1] (rows,r1) . v[0:r1] (r1,hs)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hs, r1, 1.0f, pb, T, v, C3, 0.0f,
                    o + static_cast<size_t>(r0) * C, C);
      }
    }
}

void attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                        int T, int C, int H) {
  const int hs = C / H;
  const int C3 = 3 * C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const size_t qkv_at = static_cast<size_t>(b) * T * C3 + static_cast<size_t>(h) * hs;
      const float* q = qkv + qkv_at;  // (T,hs), stride 3C; likewise k, v, dq, dk, dv
      const float* k = q + C;
      const float* v = q + 2 * C;
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
        // db[:, 0:r1] (rows,r1) = dO[r0:r1] (rows,hs) . v[0:r1]^T (hs,r1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, r1, hs, 1.0f, dOb, C, v, C3, 0.0f, db, T);
        for (int t = r0; t < r1; ++t)
          causal_softmax_backward_row(ds + static_cast<size_t>(t) * T, p + static_cast<size_t>(t) * T, t, r1);
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
