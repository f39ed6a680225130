// The one place that picks a model implementation from the config.
#include "runtime/model/model_factory.h"

#include "runtime/model/gpt.h"
#include "runtime/model/mlp.h"

namespace fedtrain {

std::unique_ptr<Model> make_model(const Config& config, const DataShape& shape) {
  if (config.model_kind == ModelKind::kGpt)
    return std::make_unique<Gpt>(GptShape{config.layers, config.heads, config.dim, config.context});
  return std::make_unique<Mlp>(shape.features, config.hidden, shape.classes);
}

}  // namespace fedtrain
