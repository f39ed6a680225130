// The one place that picks a model implementation from the config.
#pragma once

#include <memory>

#include "runtime/core/config.h"
#include "runtime/model/model.h"

namespace fedtrain {

// What the sites' training data say the model must fit.
struct DataShape {
  int features = 0;  // images: values per sample
  int classes = 0;   // images: label count
};

// The model of `config` (model.kind: an MLP classifier for data of `shape`, or a GPT on bytes).
std::unique_ptr<Model> make_model(const Config& config, const DataShape& shape);

}  // namespace fedtrain
