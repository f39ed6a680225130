// CPU kernels of a GPT-2 style transformer: the reference for kernels/cuda/gpt_kernels.h.
//
// Shapes: B sequences of T positions, N = B*T rows, C channels (the model
// width D, or 4D inside the MLP), OC output channels, H heads of hs = C/H
// channels, V vocabulary entries. Everything is float32, row-major; a Linear
// weight is (OC, C) as in PyTorch; tokens and targets are int32 in [0, V).
//
// Accumulation: every *_backward ADDS (+=) into each of its gradient outputs,
// parameter gradients and input gradients alike, so that a tied weight (wte)
// and the residual stream collect their gradients from several layers. The
// caller zeroes the gradient buffers before the first backward of a step. The fused CPU-only kernels marked
// OVERWRITES (no CUDA twin; each tested against the plain kernels it joins) are the exceptions.
// Forward outputs are overwritten. Outputs never alias inputs unless a
// comment says they may.
//
// The loss is the existing softmax cross-entropy of kernels/cpu/kernels.h:
//   double loss_sum = softmax_xent(dlogits, nullptr, logits, targets, N, V);
// logits and dlogits are (N,V), targets (N); it returns the SUMMED loss in nats
// (mean = loss_sum / N; bits per byte = loss_sum / (N * ln 2)) and overwrites
// dlogits with the gradient of the MEAN loss, (softmax - onehot) / N. dlogits
// must be a buffer of its own (the CUDA twin does not allow aliasing).
// The CPU model calls softmax_xent_inplace (below) instead: the same function, vectorised, in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/cpu/kernels.h"

namespace fedtrain::kernels::cpu {

// out (B,T,C) = wte[tokens[b,t]] (V,C) + wpe[t] (T,C); tokens (B,T).
void embedding_forward(float* out, const int32_t* tokens, const float* wte, const float* wpe, int B, int T, int C);
// dwte (V,C) [tokens[b,t]] += dout[b,t]; dwpe (T,C) [t] += dout[b,t]; dout (B,T,C).
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int32_t* tokens, int B, int T, int C,
                        int V);

// LayerNorm over the last axis, eps 1e-5 (biased variance, as PyTorch):
// out (N,C) = (inp - mean) * rstd * weight (C) + bias (C); saves mean (N) and rstd (N) = 1/sqrt(var + eps).
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int N, int C);
// dinp (N,C) +=, dweight (C) +=, dbias (C) += from dout (N,C), with mean and rstd saved by the forward pass.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C);
// The same, with the residual stream's gradient added in one pass: dinp (N,C) = dresidual (N,C) + the gradient
// through the LayerNorm (OVERWRITES dinp, which must not alias dresidual); dweight, dbias += as above.
void layernorm_backward_residual(float* dinp, const float* dresidual, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, const float* mean, const float* rstd, int N,
                                 int C);

// A Linear layer: out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC); bias may be null (no bias, as
// the tied output layer logits = lnf_out . wte^T). One sgemm, the bias as its starting value.
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);
// A Linear layer into the residual stream: out (N,OC) = residual (N,OC) + bias (OC) + inp (N,C) . weight^T,
// one sgemm that starts from residual + bias (the block's residual add fused in). out may alias residual.
void matmul_residual_forward(float* out, const float* inp, const float* weight, const float* bias,
                             const float* residual, int N, int C, int OC);
// dinp (N,C) += dout (N,OC) . weight (OC,C); dweight (OC,C) += dout^T . inp (N,C); dbias (OC) += sum_n dout.
// dinp and dbias may be null (skipped). Unlike cpu::linear_backward, which overwrites.
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC);

// GELU, tanh approximation: out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x = inp (n).
void gelu_forward(float* out, const float* inp, size_t n);
// dinp (n) += gelu'(inp) * dout (n).
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n);
// d (n) = gelu'(inp) * d: the same gradient, written over the incoming one (OVERWRITES, unlike the rule above).
void gelu_backward_inplace(float* d, const float* inp, size_t n);

// softmax_xent (top of this file) over logits (N,V) against targets (N), vectorised: returns the SUMMED loss in
// nats; when gradient is true, OVERWRITES logits with the gradient of the MEAN loss, (softmax - onehot) / N,
// else leaves them alone. Equal to softmax_xent up to float rounding (its exps are float, not double).
double softmax_xent_inplace(float* logits, const int32_t* targets, int N, int V, bool gradient);

// Causal multi-head self-attention on a fused qkv projection.
// qkv (B,T,3C): per position q (C), then k (C), then v (C); head h owns channels h*hs..(h+1)*hs-1 of each.
// out (B,T,C): head h's output in channels h*hs..(h+1)*hs-1;
// att (B,H,T,T): the probabilities softmax_s<=t(q_t . k_s / sqrt(hs)), exactly 0 for s > t (saved for backward).
// C must be a multiple of H. The products go through sgemm in blocks of query rows that skip the masked
// upper triangle.
void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int H);
// dqkv (B,T,3C) += the gradient through attention_forward, from dout (B,T,C), qkv and att as the forward pass
// saw and left them. scratch (B,H,T,T) is overwritten (contents afterwards unspecified).
void attention_backward(float* dqkv, float* scratch, const float* dout, const float* qkv, const float* att, int B,
                        int T, int C, int H);

// out (n) = a (n) + b (n); out may alias a or b.
void residual_forward(float* out, const float* a, const float* b, size_t n);
// da (n) += dout; db (n) += dout.
void residual_backward(float* da, float* db, const float* dout, size_t n);

// A run of parameters in the flat parameter vector, and whether AdamW decays it (2-D weights: yes;
// biases, LayerNorm parameters: no).
struct ParamRange {
  size_t offset = 0;  // elements
  size_t count = 0;   // elements
  bool decay = false;
};
// cpu::adamw_step (kernels.h: PyTorch semantics, bias correction by `step`, counted from 1; here one vectorised
// pass per run, equal up to float rounding) on each range of
// params, grads, m, v (flat, indexed by ParamRange::offset), with weight_decay where the range says decay and 0
// elsewhere. Elements outside every range are left alone. Adjacent ranges with the same flag run as one.
void adamw_step_masked(float* params, const float* grads, float* m, float* v, std::span<const ParamRange> ranges,
                       float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step);

// fn(offset, count, decay) for each run of ranges that follow on without a gap and carry the same flag, in
// order: how adamw_step_masked and its CUDA twin cut the parameter vector.
template <typename Fn>
void for_each_decay_run(std::span<const ParamRange> ranges, Fn&& fn) {
  for (size_t i = 0; i < ranges.size();) {
    const ParamRange& first = ranges[i];
    size_t count = first.count;
    for (++i; i < ranges.size() && ranges[i].decay == first.decay && ranges[i].offset == first.offset + count; ++i)
      count += ranges[i].count;
    fn(first.offset, count, first.decay);
  }
}

}  // namespace fedtrain::kernels::cpu
