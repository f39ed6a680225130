// MLP classifier: Linear -> ReLU -> ... -> Linear -> softmax cross-entropy.
//
// Parameters live in one flat buffer with the layout below (PyTorch names):
//   layers.i.weight (OC, C), layers.i.bias (OC)   for i = 0 .. hidden.size()
// The Mlp owns its activation workspace, sized for the largest batch seen, so
// one instance serves one rank. Batches are images and labels.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/model/model.h"

namespace fedtrain {

class Mlp final : public Model {
 public:
  Mlp(int input_dim, const std::vector<int>& hidden, int classes);

  std::string describe() const override;
  const ParamLayout& layout() const override { return layout_; }
  int input_dim() const { return dims_.front(); }
  int classes() const { return dims_.back(); }
  int64_t forward_macs_per_sample() const override;

  // PyTorch's default Linear initialisation, U(-1/sqrt(C), 1/sqrt(C)) for
  // weight and bias, drawn deterministically from `seed`.
  void init(std::span<float> params, uint64_t seed) const override;

  // batch.x (B, input_dim), batch.labels (B).
  BatchStats forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grads) override;
  BatchStats evaluate(std::span<const float> params, const Batch& batch) override;

 private:
  void forward(std::span<const float> params, const float* x, int B);
  void reserve(int B);

  std::vector<int> dims_;        // input, hidden..., classes
  ParamLayout layout_;
  int capacity_ = 0;             // batch the workspace is sized for
  std::vector<std::vector<float>> acts_;   // acts_[i] (B, dims_[i+1]): output of layer i
  std::vector<float> dlogits_, dbuf_a_, dbuf_b_;
};

}  // namespace fedtrain
