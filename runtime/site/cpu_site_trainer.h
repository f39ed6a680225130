// Synchronous data-parallel training inside one site on the CPU: OpenBLAS kernels, MPI all-reduce.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/collectives/watchdog.h"
#include "runtime/model/inner_optimizer.h"
#include "runtime/site/gradient_reducer.h"
#include "runtime/site/site_trainer.h"

namespace fedtrain {

class CpuSiteTrainer final : public SiteTrainer {
 public:
  CpuSiteTrainer(const Config& config, const Topology& topology, Collectives& site, Model& model, BatchSource& loader);

  std::string describe() const override { return "cpu"; }
  std::span<const float> params() override { return params_; }
  BatchSource& loader() override { return loader_; }
  double allreduce_seconds() const override { return reducer_.seconds(); }
  LocalStats train(int steps) override;
  void pseudo_gradient(std::span<const float> global, std::span<float> delta) override;
  void set_params(std::span<const float> global) override;
  void broadcast_params() override;
  void save_state(TrainerState& out) override;
  void load_state(const TrainerState& in) override;

  InnerOptimizer& optimizer() { return optimizer_; }

 private:
  Collectives& site_;
  Model& model_;
  BatchSource& loader_;
  int batch_size_;
  InnerOptimizerConfig inner_config_;
  std::vector<float> params_, grads_;
  InnerOptimizer optimizer_;
  GradientReducer reducer_;
  Watchdog watchdog_;
  int64_t steps_done_ = 0;             // inner steps since construction
  std::optional<int64_t> hang_before_; // test-only fault: stall before this step's all-reduce
};

// Test-only fault injection (--inject hang:site=NAME,rank=R,step=N; rank is the
// site rank, default 0; docs/testing.md): the step (1-based, counted over the
// whole run) before whose gradient all-reduce that rank stalls for ever, so
// that its peers' watchdog fires. nullopt when no such fault targets this rank.
std::optional<int64_t> injected_hang_step(const Config& config, const std::string& site, int site_rank);

// Stalls the calling rank for ever (until the launcher kills it).
[[noreturn]] void stall_forever(const std::string& why);

}  // namespace fedtrain
