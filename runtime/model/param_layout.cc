// Named tensor views into one flat float buffer.
#include "runtime/model/param_layout.h"

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

std::string shape_text(const std::vector<size_t>& shape) {
  std::string s;
  for (size_t d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

std::string cap_text() { return "2^34 (" + std::to_string(kMaxLayoutCount) + ")"; }

}  // namespace

size_t ParamLayout::add(const std::string& name, std::vector<size_t> shape) {
  for (const auto& t : tensors_)
    if (t.name == name) throw Error("tensor '" + name + "' appears twice in the layout");
  // Checked: a product or sum past kMaxLayoutCount (or past 2^64, where it would wrap) is refused.
  size_t count = 1;
  for (size_t d : shape) {
    if (__builtin_mul_overflow(count, d, &count) || count > kMaxLayoutCount)
      throw Error("tensor '" + name + "' of shape " + shape_text(shape) + " has more than " + cap_text() +
                  " elements, the most a model may hold");
  }
  size_t total = 0;
  if (__builtin_add_overflow(count_, count, &total) || total > kMaxLayoutCount)
    throw Error("tensor '" + name + "' of shape " + shape_text(shape) + " brings the model to more than " + cap_text() +
                " elements, the most a model may hold");
  tensors_.push_back(TensorInfo{name, std::move(shape), count_, count});
  count_ = total;
  return tensors_.size() - 1;
}

}  // namespace fedtrain
