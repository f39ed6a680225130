// Test loss and accuracy of the global model.
#include "runtime/site/evaluator.h"

#include <algorithm>

namespace fedtrain {

Evaluator::Evaluator(const std::string& test_file, const DatasetInfo& info, Collectives& site) : site_(site) {
  const size_t begin = info.rows * site.rank() / site.size(), end = info.rows * (site.rank() + 1) / site.size();
  part_ = read_dataset_rows(test_file, begin, end - begin, info.classes);
}

EvalResult Evaluator::evaluate(Model& model, std::span<const float> params) {
  constexpr int kBatch = 1000;
  double sums[3] = {0.0, 0.0, 0.0};  // loss, correct, samples
  for (size_t row = 0; row < part_.rows; row += kBatch) {
    const int B = static_cast<int>(std::min<size_t>(kBatch, part_.rows - row));
    const Batch batch{B, part_.x.data() + row * part_.features, part_.y.data() + row};
    BatchStats s = model.evaluate(params, batch);
    sums[0] += s.loss_sum;
    sums[1] += static_cast<double>(s.correct);
    sums[2] += static_cast<double>(s.samples);
  }
  site_.allreduce_sum(std::span<double>(sums, 3));
  EvalResult r;
  r.samples = static_cast<int64_t>(sums[2]);
  if (r.samples > 0) {
    r.loss = sums[0] / sums[2];
    r.accuracy = sums[1] / sums[2];
  }
  return r;
}

}  // namespace fedtrain
