// Test loss and accuracy of the global model, computed by the ranks of one site.
//
// The test file is read only by the evaluating site (the first site listed);
// its ranks each take a contiguous part and sum their results over site_comm,
// so evaluation adds no traffic across site borders.
#pragma once

#include <span>
#include <string>

#include "runtime/collectives/collectives.h"
#include "runtime/data/dataset_file.h"
#include "runtime/model/model.h"

namespace fedtrain {

struct EvalResult {
  double loss = 0.0;      // mean over the test set
  double accuracy = 0.0;  // fraction in [0, 1]
  int64_t samples = 0;
};

class Evaluator {
 public:
  Evaluator(const std::string& test_file, const DatasetInfo& info, Collectives& site);
  // Collective over the site.
  EvalResult evaluate(Model& model, std::span<const float> params);

 private:
  Collectives& site_;
  Dataset part_;
};

}  // namespace fedtrain
