// GPT-2 style decoder-only transformer over bytes, on the CPU kernels.
#include "runtime/model/gpt.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/cpu/gpt_kernels.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

namespace k = kernels::cpu;

// N(0, stddev) by Box-Muller over 53-bit uniforms of mt19937_64: the same numbers on every platform.
class Normal {
 public:
  explicit Normal(uint64_t seed) : gen_(seed) {}
  float operator()(float stddev) {
    if (has_spare_) {
      has_spare_ = false;
      return static_cast<float>(spare_ * stddev);
    }
    const double u1 = (static_cast<double>(gen_() >> 11) + 1.0) * (1.0 / 9007199254740992.0);  // (0, 1]
    const double u2 = static_cast<double>(gen_() >> 11) * (1.0 / 9007199254740992.0);          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return static_cast<float>(r * std::cos(a) * stddev);
  }

 private:
  std::mt19937_64 gen_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace

Gpt::Gpt(const GptShape& shape) : shape_(shape) {
  FT_CHECK(shape.dim % shape.heads == 0 && shape.layers > 0 && shape.context > 0);
  const size_t V = GptShape::kVocab, D = shape.dim, T = shape.context;
  wte_ = layout_.add("wte", {V, D});
  wpe_ = layout_.add("wpe", {T, D});
  for (int i = 0; i < shape.layers; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    Block blk;
    blk.ln1w = layout_.add(b + "ln1.weight", {D});
    blk.ln1b = layout_.add(b + "ln1.bias", {D});
    blk.qkvw = layout_.add(b + "attn.qkv.weight", {3 * D, D});
    blk.qkvb = layout_.add(b + "attn.qkv.bias", {3 * D});
    blk.projw = layout_.add(b + "attn.proj.weight", {D, D});
    blk.projb = layout_.add(b + "attn.proj.bias", {D});
    blk.ln2w = layout_.add(b + "ln2.weight", {D});
    blk.ln2b = layout_.add(b + "ln2.bias", {D});
    blk.fcw = layout_.add(b + "mlp.fc.weight", {4 * D, D});
    blk.fcb = layout_.add(b + "mlp.fc.bias", {4 * D});
    blk.fcprojw = layout_.add(b + "mlp.proj.weight", {D, 4 * D});
    blk.fcprojb = layout_.add(b + "mlp.proj.bias", {D});
    blocks_.push_back(blk);
  }
  lnfw_ = layout_.add("lnf.weight", {D});
  lnfb_ = layout_.add("lnf.bias", {D});
}

std::string Gpt::describe() const {
  return "GPT " + std::to_string(shape_.layers) + " layers, " + std::to_string(shape_.heads) + " heads, dim " +
         std::to_string(shape_.dim) + ", context " + std::to_string(shape_.context) + ", bytes (" +
         std::to_string(param_count()) + " parameters)";
}

int64_t Gpt::forward_macs_per_sample() const {
  const int64_t D = shape_.dim, T = shape_.context, L = shape_.layers, V = GptShape::kVocab;
  // qkv 3D^2, proj D^2, fc 4D^2, fcproj 4D^2 per position and layer; attention QK^T and PV: T*D each at
  // full context (half of it is masked, so this counts the dense products); the output layer V*D.
  return L * (12 * D * D + 2 * T * D) + V * D;
}

void Gpt::init(std::span<float> params, uint64_t seed) const {
  FT_CHECK(params.size() == layout_.count());
  Normal normal(seed);
  const float residual_std = 0.02f / std::sqrt(2.0f * static_cast<float>(shape_.layers));
  for (size_t t = 0; t < layout_.tensors().size(); ++t) {
    const TensorInfo& info = layout_.tensor(t);
    const bool ln = info.name.find(".ln") != std::string::npos || info.name.rfind("lnf.", 0) == 0;
    const bool bias = info.name.size() > 5 && info.name.compare(info.name.size() - 5, 5, ".bias") == 0;
    const bool residual = info.name.find("attn.proj.weight") != std::string::npos ||
                          info.name.find("mlp.proj.weight") != std::string::npos;
    auto v = layout_.view(params, t);
    if (bias) std::fill(v.begin(), v.end(), 0.0f);
    else if (ln) std::fill(v.begin(), v.end(), 1.0f);
    else
      for (float& x : v) x = normal(residual ? residual_std : 0.02f);
  }
}

void Gpt::reserve(int B) {
  if (B <= capacity_) return;
  capacity_ = B;
  const size_t N = static_cast<size_t>(B) * shape_.context, D = shape_.dim, V = GptShape::kVocab;
  const size_t att = static_cast<size_t>(B) * shape_.heads * shape_.context * shape_.context;
  inputs_.assign(N, 0);
  targets_.assign(N, 0);
  acts_.resize(shape_.layers);
  for (Acts& a : acts_) {
    for (auto* v : {&a.x, &a.ln1, &a.atty, &a.x_mid, &a.ln2}) v->assign(N * D, 0.0f);
    for (auto* v : {&a.ln1_mean, &a.ln1_rstd, &a.ln2_mean, &a.ln2_rstd}) v->assign(N, 0.0f);
    a.qkv.assign(N * 3 * D, 0.0f);
    a.att.assign(att, 0.0f);
    a.fch.assign(N * 4 * D, 0.0f);
    a.fch_gelu.assign(N * 4 * D, 0.0f);
  }
  for (auto* v : {&x_final_, &lnf_, &dres_a_, &dres_b_, &dln_, &datty_}) v->assign(N * D, 0.0f);
  lnf_mean_.assign(N, 0.0f);
  lnf_rstd_.assign(N, 0.0f);
  logits_.assign(N * V, 0.0f);
  dqkv_.assign(N * 3 * D, 0.0f);
  dfch_.assign(N * 4 * D, 0.0f);
  dscratch_.assign(att, 0.0f);
}

double Gpt::forward(std::span<const float> params, const Batch& batch, bool backward) {
  FT_CHECK(params.size() == layout_.count() && batch.tokens != nullptr);
  if (batch.context < 1 || batch.context > shape_.context)
    throw Error("a batch of windows of " + std::to_string(batch.context) + " bytes for a model of context " +
                std::to_string(shape_.context));
  const int B = batch.size, T = batch.context, D = shape_.dim, H = shape_.heads, V = GptShape::kVocab;
  const int N = B * T;
  reserve(B);
  // tokens (B, T+1): inputs [b, 0..T), targets [b, 1..T].
  for (int b = 0; b < B; ++b) {
    const uint8_t* w = batch.tokens + static_cast<size_t>(b) * (T + 1);
    for (int t = 0; t < T; ++t) {
      inputs_[static_cast<size_t>(b) * T + t] = w[t];
      targets_[static_cast<size_t>(b) * T + t] = w[t + 1];
    }
  }
  k::embedding_forward(acts_[0].x.data(), inputs_.data(), p(params, wte_), p(params, wpe_), B, T, D);
  for (int l = 0; l < shape_.layers; ++l) {
    const Block& blk = blocks_[l];
    Acts& a = acts_[l];
    float* out = l + 1 < shape_.layers ? acts_[l + 1].x.data() : x_final_.data();
    k::layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), a.x.data(), p(params, blk.ln1w),
                         p(params, blk.ln1b), N, D);
    k::matmul_forward(a.qkv.data(), a.ln1.data(), p(params, blk.qkvw), p(params, blk.qkvb), N, D, 3 * D);
    k::attention_forward(a.atty.data(), a.att.data(), a.qkv.data(), B, T, D, H);
    k::matmul_residual_forward(a.x_mid.data(), a.atty.data(), p(params, blk.projw), p(params, blk.projb),
                               a.x.data(), N, D, D);
    k::layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.x_mid.data(), p(params, blk.ln2w),
                         p(params, blk.ln2b), N, D);
    k::matmul_forward(a.fch.data(), a.ln2.data(), p(params, blk.fcw), p(params, blk.fcb), N, D, 4 * D);
    k::gelu_forward(a.fch_gelu.data(), a.fch.data(), static_cast<size_t>(N) * 4 * D);
    k::matmul_residual_forward(out, a.fch_gelu.data(), p(params, blk.fcprojw), p(params, blk.fcprojb),
                               a.x_mid.data(), N, 4 * D, D);
  }
  k::layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), x_final_.data(), p(params, lnfw_),
                       p(params, lnfb_), N, D);
  k::matmul_forward(logits_.data(), lnf_.data(), p(params, wte_), nullptr, N, D, V);
  // With backward, logits_ leaves holding d loss / d logits, which backward() reads.
  return k::softmax_xent_inplace(logits_.data(), targets_.data(), N, V, backward);
}

void Gpt::backward(std::span<const float> params, std::span<float> grads, int B, int T) {
  const int D = shape_.dim, H = shape_.heads, V = GptShape::kVocab;
  const int N = B * T;
  const size_t ND = static_cast<size_t>(N) * D;
  std::fill(grads.begin(), grads.end(), 0.0f);  // every backward kernel adds
  std::fill(dln_.begin(), dln_.begin() + ND, 0.0f);
  const float* dlogits = logits_.data();  // overwritten with the gradient by forward()
  k::matmul_backward(dln_.data(), g(grads, wte_), nullptr, dlogits, lnf_.data(), p(params, wte_), N, D, V);
  // dres: the gradient of the residual stream at the current depth.
  float* dres = dres_a_.data();
  float* dnext = dres_b_.data();
  std::fill(dres, dres + ND, 0.0f);
  k::layernorm_backward(dres, g(grads, lnfw_), g(grads, lnfb_), dln_.data(), x_final_.data(), p(params, lnfw_),
                        lnf_mean_.data(), lnf_rstd_.data(), N, D);
  for (int l = shape_.layers - 1; l >= 0; --l) {
    const Block& blk = blocks_[l];
    Acts& a = acts_[l];
    // out = x_mid + mlp(ln2(x_mid)): dres flows to x_mid directly and through the MLP.
    std::fill(dfch_.begin(), dfch_.begin() + ND * 4, 0.0f);
    k::matmul_backward(dfch_.data(), g(grads, blk.fcprojw), g(grads, blk.fcprojb), dres, a.fch_gelu.data(),
                       p(params, blk.fcprojw), N, 4 * D, D);
    k::gelu_backward_inplace(dfch_.data(), a.fch.data(), ND * 4);  // d gelu out -> d fc out
    std::fill(dln_.begin(), dln_.begin() + ND, 0.0f);
    k::matmul_backward(dln_.data(), g(grads, blk.fcw), g(grads, blk.fcb), dfch_.data(), a.ln2.data(),
                       p(params, blk.fcw), N, D, 4 * D);
    // dnext: d x_mid = dres + the gradient through ln2
    k::layernorm_backward_residual(dnext, dres, g(grads, blk.ln2w), g(grads, blk.ln2b), dln_.data(),
                                   a.x_mid.data(), p(params, blk.ln2w), a.ln2_mean.data(), a.ln2_rstd.data(), N, D);
    // x_mid = x + attn(ln1(x)): d x_mid (in dnext) flows to x directly and through attention.
    std::fill(datty_.begin(), datty_.begin() + ND, 0.0f);
    k::matmul_backward(datty_.data(), g(grads, blk.projw), g(grads, blk.projb), dnext, a.atty.data(),
                       p(params, blk.projw), N, D, D);
    std::fill(dqkv_.begin(), dqkv_.begin() + ND * 3, 0.0f);
    k::attention_backward(dqkv_.data(), dscratch_.data(), datty_.data(), a.qkv.data(), a.att.data(), B, T, D, H);
    std::fill(dln_.begin(), dln_.begin() + ND, 0.0f);
    k::matmul_backward(dln_.data(), g(grads, blk.qkvw), g(grads, blk.qkvb), dqkv_.data(), a.ln1.data(),
                       p(params, blk.qkvw), N, D, 3 * D);
    // dres: d x, the block's input = d x_mid + the gradient through ln1
    k::layernorm_backward_residual(dres, dnext, g(grads, blk.ln1w), g(grads, blk.ln1b), dln_.data(), a.x.data(),
                                   p(params, blk.ln1w), a.ln1_mean.data(), a.ln1_rstd.data(), N, D);
  }
  k::embedding_backward(g(grads, wte_), g(grads, wpe_), dres, inputs_.data(), B, T, D, V);
}

BatchStats Gpt::forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) {
  FT_CHECK(grads.size() == layout_.count());
  BatchStats s;
  s.loss_sum = forward(params, batch, /*backward=*/true);
  s.samples = static_cast<int64_t>(batch.size) * batch.context;
  backward(params, grads, batch.size, batch.context);
  return s;
}

BatchStats Gpt::evaluate(std::span<const float> params, const Batch& batch) {
  BatchStats s;
  s.loss_sum = forward(params, batch, /*backward=*/false);
  s.samples = static_cast<int64_t>(batch.size) * batch.context;
  return s;
}

std::vector<float> Gpt::next_logits(std::span<const float> params, const uint8_t* tokens, int n) {
  std::vector<uint8_t> window(tokens, tokens + n);
  window.push_back(0);  // a target for the last position; its loss is not used
  Batch batch;
  batch.size = 1;
  batch.tokens = window.data();
  batch.context = n;
  forward(params, batch, /*backward=*/false);
  const float* row = logits_.data() + static_cast<size_t>(n - 1) * GptShape::kVocab;
  return std::vector<float>(row, row + GptShape::kVocab);
}

}  // namespace fedtrain
