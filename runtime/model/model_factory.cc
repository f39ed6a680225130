// The one place that picks a model implementation from the config.
#include "runtime/model/model_factory.h"

#include "fedtrain/features.h"
#include "runtime/model/gpt.h"
#include "runtime/model/mlp.h"
#if FEDTRAIN_WITH_CUDA
#include "runtime/model/cuda_gpt_model.h"
#endif

namespace fedtrain {

std::unique_ptr<Model> make_model(const Config& config, const DataShape& shape) {
  if (config.model_kind == ModelKind::kGpt) {
    const GptShape gpt{config.layers, config.heads, config.dim, config.context};
#if FEDTRAIN_WITH_CUDA
    // run.device = cuda: every rank has a GPU (plan_devices stops the start-up otherwise), so the site
    // evaluates on it too. Without CUDA, plan_devices refuses cuda with its own message.
    if (config.device == DeviceKind::kCuda) return std::make_unique<CudaGptModel>(gpt);
#endif
    return std::make_unique<Gpt>(gpt);
  }
  return std::make_unique<Mlp>(shape.features, config.hidden, shape.classes);
}

}  // namespace fedtrain
