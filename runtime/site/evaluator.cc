// Loss (and accuracy) of the global model on a site's held-out data.
#include "runtime/site/evaluator.h"

namespace fedtrain {

Evaluator::Evaluator(std::unique_ptr<EvalSet> set, Collectives& site) : set_(std::move(set)), site_(site) {}

EvalResult Evaluator::evaluate(Model& model, std::span<const float> params) {
  double sums[3] = {0.0, 0.0, 0.0};  // loss, correct, samples
  for (size_t i = 0; i < set_->batches(); ++i) {
    const BatchStats s = model.evaluate(params, set_->batch(i));
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
