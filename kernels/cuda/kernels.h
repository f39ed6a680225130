// CUDA kernels: the GPU twins of kernels/cpu/kernels.h, on device pointers.
//
// Same shapes and conventions as the CPU reference (row-major, a Linear weight
// is (OC, C) as in PyTorch; B batch, C input features, OC output features, V
// classes). Every function enqueues its work on `stream` and returns at once;
// the results are visible to later work on that stream. Launch and cuBLAS
// errors throw fedtrain::Error (kernels/cuda/check.h). The GEMMs run in pure
// FP32 through cuBLAS (no TF32), like the OpenBLAS sgemm of the reference.
// Results equal the CPU's up to summation order, except quantize and
// dequantize, which give identical bits (tests/cuda/kernels_cuda_test.cc).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cuda {

using cpu::Activation;

// out (B,OC) = act(inp (B,C) . weight (OC,C)^T + bias (OC)): one SGEMM, then bias
// and activation fused in one elementwise pass.
void linear_forward(cublasHandle_t blas, cudaStream_t stream, float* out, const float* inp, const float* weight,
                    const float* bias, int B, int C, int OC, Activation act);

// Given dout (B,OC): dweight (OC,C) = dout^T . inp, dbias (OC) = sum_b dout (a
// fixed-order column sum: deterministic), dinp (B,C) = dout . weight (skipped
// when dinp is null). Overwrites, never accumulates.
void linear_backward(cublasHandle_t blas, cudaStream_t stream, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int B, int C, int OC);

// In place: d (n) *= (out > 0).
void relu_backward(cudaStream_t stream, float* d, const float* out, size_t n);

// Softmax cross-entropy on logits (B,V), labels (B) in [0,V), one warp per row:
// row_loss (B) = -log softmax(logits)[label] (double), row_hit (B) = 1 where the
// first argmax is the label; dlogits (B,V) (unless null) = (softmax - onehot) / B.
void softmax_xent(cudaStream_t stream, float* dlogits, double* row_loss, int32_t* row_hit, const float* logits,
                  const int32_t* labels, int B, int V);

// *loss_sum += sum_b row_loss[b], *correct += sum_b row_hit[b]; one block in a
// fixed order, so the sums are the same on every run.
void accumulate_rows(cudaStream_t stream, double* loss_sum, int64_t* correct, const double* row_loss,
                     const int32_t* row_hit, int B);

// SGD with momentum (PyTorch semantics, dampening 0); momentum 0 leaves momentum_buf alone (may be null).
void sgd_step(cudaStream_t stream, float* params, const float* grads, float* momentum_buf, size_t n, float lr,
              float momentum, float weight_decay, bool nesterov);

// AdamW (decoupled weight decay), PyTorch semantics; `step` counts from 1.
void adamw_step(cudaStream_t stream, float* params, const float* grads, float* m, float* v, size_t n, float lr,
                float beta1, float beta2, float eps, float weight_decay, int64_t step);

// delta (n) = global (n) - local (n)
void pseudo_gradient(cudaStream_t stream, float* delta, const float* global, const float* local, size_t n);

// x (n) *= alpha
void scale(cudaStream_t stream, float* x, size_t n, float alpha);

// Fixed point in Z_2^32 with stochastic rounding; bit-identical to cpu::quantize.
void quantize(cudaStream_t stream, uint32_t* out, const float* x, size_t n, float clip, double scale, uint64_t seed,
              uint64_t offset);
// out[i] = (float)(int32(q[i]) * inv_scale); bit-identical to cpu::dequantize.
void dequantize(cudaStream_t stream, float* out, const uint32_t* q, size_t n, double inv_scale);

}  // namespace fedtrain::kernels::cuda
