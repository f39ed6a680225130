// Linear layer forward and backward through OpenBLAS sgemm, with the bias and ReLU fused in one pass.
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

void linear_forward(float* out, const float* inp, const float* weight, const float* bias, int B, int C, int OC,
                    Activation act) {
  // out (B,OC) = inp (B,C) . weight^T (C,OC)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
  for (int b = 0; b < B; ++b) {
    float* row = out + static_cast<size_t>(b) * OC;
    if (act == Activation::kRelu) {
      for (int o = 0; o < OC; ++o) row[o] = std::max(row[o] + bias[o], 0.0f);
    } else {
      for (int o = 0; o < OC; ++o) row[o] += bias[o];
    }
  }
}

void linear_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int B, int C, int OC) {
  // dweight (OC,C) = dout^T (OC,B) . inp (B,C)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f, dout, OC, inp, C, 0.0f, dweight, C);
  std::memset(dbias, 0, sizeof(float) * OC);
  for (int b = 0; b < B; ++b) {
    const float* row = dout + static_cast<size_t>(b) * OC;
    for (int o = 0; o < OC; ++o) dbias[o] += row[o];
  }
  // dinp (B,C) = dout (B,OC) . weight (OC,C)
  if (dinp != nullptr)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C);
}

void relu_backward(float* d, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = out[i] > 0.0f ? d[i] : 0.0f;
}

}  // namespace fedtrain::kernels::cpu
