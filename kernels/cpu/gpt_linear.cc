// A GPT's Linear layers through OpenBLAS sgemm: optional bias, and a backward pass that accumulates.
#include <cblas.h>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cpu {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC) {
  if (bias != nullptr) {
    linear_forward(out, inp, weight, bias, N, C, OC, Activation::kNone);  // the same sgemm plus bias
    return;
  }
  // out (N,OC) = inp (N,C) . weight^T (C,OC)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC) {
  // dweight (OC,C) += dout^T (OC,N) . inp (N,C)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias != nullptr)
    for (int n = 0; n < N; ++n) {
      const float* row = dout + static_cast<size_t>(n) * OC;
      for (int o = 0; o < OC; ++o) dbias[o] += row[o];
    }
  // dinp (N,C) += dout (N,OC) . weight (OC,C)
  if (dinp != nullptr)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
}

}  // namespace fedtrain::kernels::cpu
