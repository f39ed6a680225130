// Named tensor views into one flat float buffer.
#include "runtime/model/param_layout.h"

#include "runtime/core/check.h"

namespace fedtrain {

size_t ParamLayout::add(const std::string& name, std::vector<size_t> shape) {
  size_t count = 1;
  for (size_t d : shape) count *= d;
  for (const auto& t : tensors_) FT_CHECK(t.name != name, "duplicate tensor " << name);
  tensors_.push_back(TensorInfo{name, std::move(shape), count_, count});
  count_ += count;
  return tensors_.size() - 1;
}

}  // namespace fedtrain
