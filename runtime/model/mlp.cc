// MLP classifier forward, backward and initialisation on the CPU kernels.
#include "runtime/model/mlp.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"

namespace fedtrain {

namespace k = kernels::cpu;

Mlp::Mlp(int input_dim, const std::vector<int>& hidden, int classes) {
  dims_.push_back(input_dim);
  dims_.insert(dims_.end(), hidden.begin(), hidden.end());
  dims_.push_back(classes);
  for (size_t i = 0; i + 1 < dims_.size(); ++i) {
    const size_t c = dims_[i], oc = dims_[i + 1];
    layout_.add("layers." + std::to_string(i) + ".weight", {oc, c});
    layout_.add("layers." + std::to_string(i) + ".bias", {oc});
  }
}

std::string Mlp::describe() const {
  std::string s = "MLP";
  for (size_t i = 0; i < dims_.size(); ++i) s += (i == 0 ? " " : "-") + std::to_string(dims_[i]);
  return s + " (" + std::to_string(param_count()) + " parameters)";
}

int64_t Mlp::forward_macs_per_sample() const {
  int64_t macs = 0;
  for (size_t i = 0; i + 1 < dims_.size(); ++i) macs += static_cast<int64_t>(dims_[i]) * dims_[i + 1];
  return macs;
}

void Mlp::init(std::span<float> params, uint64_t seed) const {
  FT_CHECK(params.size() == layout_.count());
  std::mt19937_64 gen(seed);
  for (size_t i = 0; i + 1 < dims_.size(); ++i) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(dims_[i]));
    for (size_t t : {2 * i, 2 * i + 1}) {
      for (float& p : layout_.view(params, t)) {
        // 24 random bits -> [0,1): the same on every platform, unlike std::uniform_real_distribution.
        float u = static_cast<float>(gen() >> 40) * (1.0f / 16777216.0f);
        p = (2.0f * u - 1.0f) * bound;
      }
    }
  }
}

void Mlp::reserve(int B) {
  if (B <= capacity_) return;
  capacity_ = B;
  acts_.resize(dims_.size() - 1);
  size_t widest = 0;
  for (size_t i = 0; i + 1 < dims_.size(); ++i) {
    acts_[i].assign(static_cast<size_t>(B) * dims_[i + 1], 0.0f);
    widest = std::max(widest, static_cast<size_t>(dims_[i + 1]));
  }
  dlogits_.assign(static_cast<size_t>(B) * classes(), 0.0f);
  dbuf_a_.assign(static_cast<size_t>(B) * widest, 0.0f);
  dbuf_b_.assign(static_cast<size_t>(B) * widest, 0.0f);
}

void Mlp::forward(std::span<const float> params, const float* x, int B) {
  FT_CHECK(params.size() == layout_.count());
  reserve(B);
  const size_t n_layers = dims_.size() - 1;
  const float* inp = x;
  for (size_t i = 0; i < n_layers; ++i) {
    const auto w = layout_.view(params, 2 * i);
    const auto b = layout_.view(params, 2 * i + 1);
    const bool last = i + 1 == n_layers;
    k::linear_forward(acts_[i].data(), inp, w.data(), b.data(), B, dims_[i], dims_[i + 1],
                      last ? k::Activation::kNone : k::Activation::kRelu);
    inp = acts_[i].data();
  }
}

BatchStats Mlp::forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) {
  FT_CHECK(grads.size() == layout_.count() && batch.x != nullptr && batch.labels != nullptr);
  const float* x = batch.x;
  const int32_t* labels = batch.labels;
  const int B = batch.size;
  forward(params, x, B);
  const size_t n_layers = dims_.size() - 1;
  BatchStats stats;
  int correct = 0;
  stats.loss_sum = k::softmax_xent(dlogits_.data(), &correct, acts_.back().data(), labels, B, classes());
  stats.correct = correct;
  stats.samples = B;

  // Walk back from the logits; dout holds d(loss)/d(output of layer i).
  const float* dout = dlogits_.data();
  float* dinp_buf = dbuf_a_.data();
  for (size_t i = n_layers; i-- > 0;) {
    const float* inp = i == 0 ? x : acts_[i - 1].data();
    const auto w = layout_.view(params, 2 * i);
    auto dw = layout_.view(grads, 2 * i);
    auto db = layout_.view(grads, 2 * i + 1);
    float* dinp = i == 0 ? nullptr : dinp_buf;
    k::linear_backward(dinp, dw.data(), db.data(), dout, inp, w.data(), B, dims_[i], dims_[i + 1]);
    if (i == 0) break;
    k::relu_backward(dinp, acts_[i - 1].data(), static_cast<size_t>(B) * dims_[i]);
    dout = dinp;
    dinp_buf = dinp_buf == dbuf_a_.data() ? dbuf_b_.data() : dbuf_a_.data();
  }
  return stats;
}

BatchStats Mlp::evaluate(std::span<const float> params, const Batch& batch) {
  FT_CHECK(batch.x != nullptr && batch.labels != nullptr);
  const int32_t* labels = batch.labels;
  const int B = batch.size;
  forward(params, batch.x, B);
  BatchStats stats;
  int correct = 0;
  stats.loss_sum = k::softmax_xent(nullptr, &correct, acts_.back().data(), labels, B, classes());
  stats.correct = correct;
  stats.samples = B;
  return stats;
}

}  // namespace fedtrain
