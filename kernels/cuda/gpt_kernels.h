// CUDA kernels of a GPT-2 style transformer: the GPU twins of kernels/cpu/gpt_kernels.h, on device pointers.
//
// Same arguments, shapes and accumulation rules as the CPU reference (read its header first): N = B*T rows,
// C channels, H heads, V vocabulary entries, row-major float32, a Linear weight (OC, C); every *_backward
// adds (+=) into its gradient outputs, forward outputs are overwritten. Each function enqueues its work on
// `stream` and returns at once; the GEMMs go through cuBLAS in pure FP32 (a BlasHandle, kernels/cuda/device.h,
// is set to the stream on each call). Launch and cuBLAS errors throw fedtrain::Error (kernels/cuda/check.h).
// All sizes must be positive (n may be 0 for the elementwise ones). Results equal the CPU's up to rounding
// and summation order (tests/cuda/gpt_kernels_cuda_test.cc); every reduction here runs in a fixed order, so
// a run repeats bit for bit.
//
// The loss is the existing pair of kernels/cuda/kernels.h, with N rows:
//   softmax_xent(stream, dlogits, row_loss, row_hit, logits, targets, N, V);   // dlogits = (softmax - onehot)/N
//   accumulate_rows(stream, loss_sum, correct, row_loss, row_hit, N);          // *loss_sum += summed loss (nats)
// dlogits must not alias logits there.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/cpu/gpt_kernels.h"

namespace fedtrain::kernels::cuda {

using cpu::ParamRange;

// out (B,T,C) = wte[tokens[b,t]] (V,C) + wpe[t] (T,C); tokens (B,T) in [0,V).
void embedding_forward(cudaStream_t stream, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       int B, int T, int C);
// dwte (V,C) [tokens[b,t]] += dout[b,t]; dwpe (T,C) [t] += dout[b,t]. No atomics: one block per token value
// scans the tokens in order (V blocks; meant for small vocabularies such as bytes), so the sums are
// deterministic. A token outside [0,V) is ignored here (the CPU twin would write out of bounds).
void embedding_backward(cudaStream_t stream, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        int B, int T, int C, int V);

// out (N,C) = (inp - mean) * rstd * weight + bias, eps 1e-5; saves mean (N), rstd (N). One warp per row.
void layernorm_forward(cudaStream_t stream, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C);
// dinp (N,C) +=, dweight (C) +=, dbias (C) +=.
void layernorm_backward(cudaStream_t stream, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C);

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC); bias may be null.
void matmul_forward(cublasHandle_t blas, cudaStream_t stream, float* out, const float* inp, const float* weight,
                    const float* bias, int N, int C, int OC);
// dinp (N,C) += dout . weight; dweight (OC,C) += dout^T . inp; dbias (OC) += sum_n dout; dinp, dbias may be null.
void matmul_backward(cublasHandle_t blas, cudaStream_t stream, float* dinp, float* dweight, float* dbias,
                     const float* dout, const float* inp, const float* weight, int N, int C, int OC);

// out (n) = gelu(inp), tanh approximation.
void gelu_forward(cudaStream_t stream, float* out, const float* inp, size_t n);
// dinp (n) += gelu'(inp) * dout.
void gelu_backward(cudaStream_t stream, float* dinp, const float* inp, const float* dout, size_t n);

// qkv (B,T,3C) -> out (B,T,C), att (B,H,T,T) probabilities (0 above the diagonal). Per head, over the batch:
// cublasSgemmStridedBatched for the full Q K^T, a masked softmax (one warp per row), then P V.
void attention_forward(cublasHandle_t blas, cudaStream_t stream, float* out, float* att, const float* qkv, int B,
                       int T, int C, int H);
// dqkv (B,T,3C) += the gradient through attention_forward, from dout (B,T,C); scratch (B,H,T,T) is overwritten.
void attention_backward(cublasHandle_t blas, cudaStream_t stream, float* dqkv, float* scratch, const float* dout,
                        const float* qkv, const float* att, int B, int T, int C, int H);

// out (n) = a + b; out may alias a or b.
void residual_forward(cudaStream_t stream, float* out, const float* a, const float* b, size_t n);
// da (n) += dout; db (n) += dout.
void residual_backward(cudaStream_t stream, float* da, float* db, const float* dout, size_t n);

// cuda::adamw_step (kernels.h) per run of ranges (cpu::for_each_decay_run), weight_decay where a range decays
// and 0 elsewhere; `ranges` lives on the host. One launch per run: order the parameters so that runs are few.
void adamw_step_masked(cudaStream_t stream, float* params, const float* grads, float* m, float* v,
                       std::span<const ParamRange> ranges, float lr, float beta1, float beta2, float eps,
                       float weight_decay, int64_t step);

}  // namespace fedtrain::kernels::cuda
