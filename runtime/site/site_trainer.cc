// The factory of site trainers: the CPU or the GPU one, as plan_devices decides for this rank's site.
#include "runtime/site/site_trainer.h"

#include "fedtrain/features.h"
#include "runtime/core/error.h"
#include "runtime/site/cpu_site_trainer.h"
#include "runtime/site/device_plan.h"
#if FEDTRAIN_WITH_CUDA
#include "runtime/site/cuda_site_trainer.h"
#endif

namespace fedtrain {

void check_state_fits(const TrainerState& in, size_t param_count, const std::vector<std::string>& state_names) {
  if (in.params.size() != param_count)
    throw Error("the saved parameters hold " + std::to_string(in.params.size()) + " values, this model " +
                std::to_string(param_count));
  std::string want, have;
  for (const auto& n : state_names) want += (want.empty() ? "" : ", ") + n;
  for (const auto& n : in.optimizer_names) have += (have.empty() ? "" : ", ") + n;
  if (in.optimizer_names != state_names || in.optimizer.size() != state_names.size())
    throw Error("the saved inner optimizer state holds [" + have + "], this optimizer needs [" + want + "]");
  for (size_t i = 0; i < in.optimizer.size(); ++i)
    if (in.optimizer[i].size() != param_count)
      throw Error("the saved inner optimizer buffer '" + state_names[i] + "' has the wrong size");
}

std::unique_ptr<SiteTrainer> make_site_trainer(const Config& config, TwoLevelAgreement& agreement, Collectives& site,
                                               Model& model, BatchSource& loader) {
  const Topology& topology = agreement.topology();
  const DevicePlan plan = plan_devices(config, agreement, site);
  std::unique_ptr<SiteTrainer> trainer;
  std::string error;
  try {
#if FEDTRAIN_WITH_CUDA
    if (plan.cuda) trainer = make_cuda_site_trainer(config, topology, plan, site, model, loader);
#endif
    if (!plan.cuda) trainer = std::make_unique<CpuSiteTrainer>(config, topology, site, model, loader);
  } catch (const Error& e) {
    error = e.what();
  }
  agreement.agree_startup(error, kExitRuntime);
  return trainer;
}

}  // namespace fedtrain
