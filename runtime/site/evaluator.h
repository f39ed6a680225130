// Loss (and accuracy) of the global model on a site's held-out data, computed by the ranks of that site.
//
// Each rank evaluates its part (eval_set.h) and the sums meet over site_comm,
// so evaluation adds no traffic across site borders: only the resulting
// scalars leave the site, in the round totals.
#pragma once

#include <memory>
#include <span>

#include "runtime/collectives/collectives.h"
#include "runtime/model/model.h"
#include "runtime/site/eval_set.h"

namespace fedtrain {

struct EvalResult {
  double loss = 0.0;      // mean over every scored prediction, nats
  double accuracy = 0.0;  // fraction in [0, 1] (classifiers)
  int64_t samples = 0;    // scored predictions: images, or predicted bytes
};

class Evaluator {
 public:
  Evaluator(std::unique_ptr<EvalSet> set, Collectives& site);
  // Collective over the site.
  EvalResult evaluate(Model& model, std::span<const float> params);

 private:
  std::unique_ptr<EvalSet> set_;
  Collectives& site_;
};

}  // namespace fedtrain
