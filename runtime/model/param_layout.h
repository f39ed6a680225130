// Named tensor views into one flat float buffer.
//
// Parameters, gradients and every optimizer state of a model each live in one
// contiguous buffer with this layout, so that a bucket all-reduce, a
// pseudo-gradient or a checkpoint is a loop over one span, and a tensor is
// found by name ("layers.0.weight", as PyTorch names a Linear's weight).
//
// A layout holds at most kMaxLayoutCount elements (2^34: 64 GiB per float32
// buffer, and a site holds several such buffers per rank). The cap is checked
// with overflow-checked arithmetic as tensors are added, so a layout's counts
// and offsets never wrap and every tensor lies inside [0, count()): layouts
// come from checkpoint files too (model_layout), which may be hostile.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace fedtrain {

inline constexpr size_t kMaxLayoutCount = size_t{1} << 34;  // elements

struct TensorInfo {
  std::string name;
  std::vector<size_t> shape;
  size_t offset = 0;  // elements from the start of the flat buffer
  size_t count = 0;   // elements
};

class ParamLayout {
 public:
  // Appends a tensor; returns its index. Throws Error (leaving the layout as it
  // was) if the name is taken, or if the tensor's element count, or the
  // layout's, would exceed kMaxLayoutCount.
  size_t add(const std::string& name, std::vector<size_t> shape);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& tensor(size_t i) const { return tensors_[i]; }
  size_t count() const { return count_; }  // elements in the flat buffer

  template <typename T>
  std::span<T> view(std::span<T> flat, size_t i) const {
    return flat.subspan(tensors_[i].offset, tensors_[i].count);
  }

 private:
  std::vector<TensorInfo> tensors_;
  size_t count_ = 0;
};

}  // namespace fedtrain
