// A GPT's Linear layers through OpenBLAS: the bias (and a residual) as the sgemm's starting C, and a backward
// pass that accumulates, with the bias gradient as one sgemv.
//
// Forward: out is first set to bias (+ residual) row by row, then sgemm adds inp . weight^T with beta = 1.
// That is one pass over out before the product and none after it, where adding the bias afterwards costs a
// pass of its own (and OpenBLAS's beta = 0 would zero out in a pass first as well). The sums are the same
// up to float rounding (the bias enters the sum first instead of last).
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

namespace {

// out (N,OC) += inp (N,C) . weight^T (C,OC)
void add_product(float* out, const float* inp, const float* weight, int N, int C, int OC) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, 1.0f, out, OC);
}

// n ones, kept per thread (the bias gradient's sgemv multiplies dout^T by them).
const float* ones(int n) {
  thread_local std::vector<float> v;
  if (v.size() < static_cast<size_t>(n)) v.assign(static_cast<size_t>(n), 1.0f);
  return v.data();
}

}  // namespace

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  if (bias == nullptr) {
    // out (N,OC) = inp (N,C) . weight^T (C,OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    return;
  }
  for (int n = 0; n < N; ++n) std::copy(bias, bias + OC, out + static_cast<size_t>(n) * OC);
  add_product(out, inp, weight, N, C, OC);
}

void matmul_residual_forward(float* out, const float* inp, const float* weight, const float* bias,
                             const float* residual, int N, int C, int OC) {
  const size_t count = static_cast<size_t>(N) * OC;
  for (size_t i = 0; i < count; i += static_cast<size_t>(OC)) {
    float* o = out + i;
    const float* r = residual + i;
    for (int j = 0; j < OC; ++j) o[j] = r[j] + bias[j];
  }
  add_product(out, inp, weight, N, C, OC);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC) {
  // dweight (OC,C) += dout^T (OC,N) . inp (N,C)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  // dbias (OC) += dout^T (OC,N) . ones (N)
  if (dbias != nullptr) cblas_sgemv(CblasRowMajor, CblasTrans, N, OC, 1.0f, dout, OC, ones(N), 1, 1.0f, dbias, 1);
  // dinp (N,C) += dout (N,OC) . weight (OC,C)
  if (dinp != nullptr)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
}

}  // namespace fedtrain::kernels::cpu
