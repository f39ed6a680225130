// The held-out data one rank of a site evaluates the global model on.
#include "runtime/site/eval_set.h"

#include <algorithm>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

class ImageEvalSet final : public EvalSet {
 public:
  ImageEvalSet(const std::string& test_file, const DatasetInfo& info, int part, int parts) {
    const size_t begin = info.rows * part / parts, end = info.rows * (part + 1) / parts;
    data_ = read_dataset_rows(test_file, begin, end - begin, info.classes);
  }
  size_t batches() const override { return (data_.rows + kBatch - 1) / kBatch; }
  Batch batch(size_t i) override {
    const size_t row = i * kBatch;
    Batch b;
    b.size = static_cast<int>(std::min<size_t>(kBatch, data_.rows - row));
    b.x = data_.x.data() + row * data_.features;
    b.labels = data_.y.data() + row;
    return b;
  }

 private:
  static constexpr size_t kBatch = 1000;
  Dataset data_;
};

class TextEvalSet final : public EvalSet {
 public:
  TextEvalSet(const std::vector<uint8_t>& val, int context, int part, int parts, int windows_per_batch,
              const std::string& what)
      : context_(context), per_batch_(windows_per_batch) {
    const size_t T = static_cast<size_t>(context);
    if (val.size() < T + 1)
      throw ConfigError(what + " holds " + std::to_string(val.size()) + " bytes, fewer than one window of " +
                        "model.context + 1 = " + std::to_string(T + 1) +
                        ": choose a shorter model.context or give the site more validation text");
    const size_t total = (val.size() - 1) / T;  // windows [w*T, w*T + T] that fit
    const size_t first = total * part / parts, last = total * (part + 1) / parts;
    windows_ = last - first;
    for (size_t w = first; w < last; ++w)
      tokens_.insert(tokens_.end(), val.begin() + static_cast<std::ptrdiff_t>(w * T),
                     val.begin() + static_cast<std::ptrdiff_t>(w * T + T + 1));
  }
  size_t batches() const override { return (windows_ + per_batch_ - 1) / per_batch_; }
  Batch batch(size_t i) override {
    const size_t first = i * per_batch_;
    Batch b;
    b.size = static_cast<int>(std::min<size_t>(per_batch_, windows_ - first));
    b.tokens = tokens_.data() + first * (static_cast<size_t>(context_) + 1);
    b.context = context_;
    return b;
  }

 private:
  int context_;
  size_t per_batch_;
  size_t windows_ = 0;
  std::vector<uint8_t> tokens_;  // this rank's windows, (windows_, T+1)
};

}  // namespace

std::unique_ptr<EvalSet> make_image_eval_set(const std::string& test_file, const DatasetInfo& info, int part,
                                             int parts) {
  return std::make_unique<ImageEvalSet>(test_file, info, part, parts);
}

std::unique_ptr<EvalSet> make_text_eval_set(const std::vector<uint8_t>& val, int context, int part, int parts,
                                            int windows_per_batch, const std::string& what) {
  return std::make_unique<TextEvalSet>(val, context, part, parts, windows_per_batch, what);
}

}  // namespace fedtrain
