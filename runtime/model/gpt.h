// GPT-2 style decoder-only transformer over bytes (vocabulary 256), on the CPU kernels of gpt_kernels.h.
//
// Forward pass, tokens (B,T) -> logits (B,T,V):
//   x = wte[tokens] + wpe[0..T)                                  (B,T,D)
//   for each block i:
//     x = x + attn.proj(causal_attention(attn.qkv(ln1(x))))      H heads, scaled by 1/sqrt(D/H)
//     x = x + mlp.proj(gelu_tanh(mlp.fc(ln2(x))))                 width 4D
//   logits = lnf(x) . wte^T                                      output tied to the token embedding
// Loss: softmax cross-entropy of logits[b,t] against tokens[b,t+1], mean over
// the B*T positions. LayerNorm eps 1e-5; every Linear and LayerNorm has a bias.
//
// Parameters, in this order in the flat buffer (PyTorch names, out x in):
//   wte (V,D), wpe (T,D),
//   blocks.{i}.ln1.weight|bias (D), blocks.{i}.attn.qkv.weight (3D,D) (rows q, then k, then v; head h owns
//   rows h*D/H..(h+1)*D/H-1 of each), .attn.qkv.bias (3D), .attn.proj.weight (D,D), .bias (D),
//   .ln2.weight|bias (D), .mlp.fc.weight (4D,D), .bias (4D), .mlp.proj.weight (D,4D), .bias (D),
//   lnf.weight|bias (D).
// Initialisation (GPT-2): N(0, 0.02) for wte, wpe and every weight matrix, N(0, 0.02/sqrt(2L)) for the two
// residual projections (attn.proj.weight, mlp.proj.weight), zeros for biases, ones for LayerNorm weights.
// docs/models.md is the full specification.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/model/model.h"

namespace fedtrain {

struct GptShape {
  int layers = 4;
  int heads = 4;
  int dim = 128;      // D
  int context = 128;  // T
  static constexpr int kVocab = 256;
};

class Gpt final : public Model {
 public:
  explicit Gpt(const GptShape& shape);

  std::string describe() const override;
  const ParamLayout& layout() const override { return layout_; }
  const GptShape& shape() const { return shape_; }
  // Per predicted byte (one position): the multiply-adds of the Linear layers, the
  // attention products at full context, and the tied output layer.
  int64_t forward_macs_per_sample() const override;

  void init(std::span<float> params, uint64_t seed) const override;
  // batch.tokens (B, T+1); batch.context T is at most the model's context (positions 0..T-1 of wpe).
  BatchStats forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) override;
  BatchStats evaluate(std::span<const float> params, const Batch& batch) override;
  // The logits (256) of the byte after tokens[0..n), n in 1..context.
  std::vector<float> next_logits(std::span<const float> params, const uint8_t* tokens, int n);

 private:
  struct Block {  // tensor indices in layout_
    size_t ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb;
  };
  struct Acts {  // one block's saved activations
    std::vector<float> x;  // the block's input (residual stream) (N,D)
    std::vector<float> ln1, ln1_mean, ln1_rstd, qkv, att, atty, x_mid, ln2, ln2_mean, ln2_rstd, fch, fch_gelu;
  };
  void reserve(int B);
  double forward(std::span<const float> params, const Batch& batch, bool backward);
  void backward(std::span<const float> params, std::span<float> grads, int B, int T);
  const float* p(std::span<const float> params, size_t t) const { return params.data() + layout_.tensor(t).offset; }
  float* g(std::span<float> grads, size_t t) const { return grads.data() + layout_.tensor(t).offset; }

  GptShape shape_;
  ParamLayout layout_;
  size_t wte_, wpe_, lnfw_, lnfb_;
  std::vector<Block> blocks_;
  int capacity_ = 0;  // B the buffers are sized for
  std::vector<int32_t> inputs_, targets_;
  std::vector<Acts> acts_;
  std::vector<float> x_final_, lnf_, lnf_mean_, lnf_rstd_;
  std::vector<float> logits_;  // (N,V); after a forward pass for backward, the loss's gradient in their place
  // backward scratch
  std::vector<float> dres_a_, dres_b_, dln_, dqkv_, datty_, dfch_, dscratch_;
};

}  // namespace fedtrain
