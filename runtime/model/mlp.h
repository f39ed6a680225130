// MLP classifier: Linear -> ReLU -> ... -> Linear -> softmax cross-entropy.
//
// Parameters live in one flat buffer with the layout below (PyTorch names):
//   layers.i.weight (OC, C), layers.i.bias (OC)   for i = 0 .. hidden.size()
// The Mlp owns its activation workspace, sized for the largest batch seen, so
// one instance serves one rank.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/model/param_layout.h"

namespace fedtrain {

struct BatchStats {
  double loss_sum = 0.0;  // summed over the batch
  int64_t correct = 0;
  int64_t samples = 0;
};

class Mlp {
 public:
  Mlp(int input_dim, const std::vector<int>& hidden, int classes);

  const ParamLayout& layout() const { return layout_; }
  size_t param_count() const { return layout_.count(); }
  int input_dim() const { return dims_.front(); }
  int classes() const { return dims_.back(); }
  // Multiply-adds of one sample's forward pass (backward costs twice that).
  int64_t forward_macs_per_sample() const;

  // PyTorch's default Linear initialisation, U(-1/sqrt(C), 1/sqrt(C)) for
  // weight and bias, drawn deterministically from `seed`: every rank that
  // calls this with the same seed holds bit-identical parameters.
  void init(std::span<float> params, uint64_t seed) const;

  // x (B, input_dim), labels (B). Writes the gradient of the mean loss into
  // grads (same layout as params, overwritten).
  BatchStats forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int B,
                              std::span<float> grads);
  // Loss and accuracy only.
  BatchStats evaluate(std::span<const float> params, const float* x, const int32_t* labels, int B);

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
