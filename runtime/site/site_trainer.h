// Synchronous data-parallel training inside one site.
//
// One inner step on every rank of the site:
//   loader batch -> forward/backward (Mlp) -> bucketed all-reduce of the
//   gradients over site_comm (average) -> identical optimizer step.
// Every rank starts from the same parameters and applies the same averaged
// gradient, so the replicas stay bit-identical without further traffic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/collectives/collectives.h"
#include "runtime/core/config.h"
#include "runtime/data/shard_loader.h"
#include "runtime/model/inner_optimizer.h"
#include "runtime/model/mlp.h"
#include "runtime/site/gradient_reducer.h"

namespace fedtrain {

// Everything one rank needs to continue training exactly where it stood, in
// host memory (a trainer on a GPU copies from and to the device). At a round
// boundary `params` is theta_global on every rank of every site.
struct TrainerState {
  std::vector<float> params;                  // (param_count), ParamLayout order
  std::vector<std::string> optimizer_names;   // the inner optimizer's buffers: "momentum", or "exp_avg", "exp_avg_sq"
  std::vector<std::vector<float>> optimizer;  // one (param_count) buffer per name, ParamLayout order
  int64_t optimizer_steps = 0;                // inner steps taken (AdamW's bias correction needs it)
  ShardLoader::Position loader;               // this rank's place in its data
};

struct LocalStats {
  double loss_sum = 0.0;  // over this rank's samples
  int64_t samples = 0;
};

class SiteTrainer {
 public:
  SiteTrainer(const Config& config, Collectives& site, Mlp& model, ShardLoader& loader);

  std::span<float> params() { return params_; }
  std::span<const float> params() const { return params_; }
  InnerOptimizer& optimizer() { return optimizer_; }
  ShardLoader& loader() { return loader_; }
  // Wall time spent in gradient all-reduces since construction.
  double allreduce_seconds() const { return reducer_.seconds(); }

  // Runs `steps` inner steps; returns this rank's training loss over them.
  LocalStats train(int steps);
  // delta = global - params: this site's pseudo-gradient (host buffers, model-sized).
  void pseudo_gradient(std::span<const float> global, std::span<float> delta) const;
  // params = global (on the leader, before broadcast_params).
  void set_params(std::span<const float> global);
  // The site leader's parameters to every rank of the site.
  void broadcast_params();

  // Copies this rank's whole training state out (for checkpoints), or back in
  // (on resume). load_state throws Error if the state does not fit this
  // trainer (other model size or optimizer).
  void save_state(TrainerState& out);
  void load_state(const TrainerState& in);

 private:
  Collectives& site_;
  Mlp& model_;
  ShardLoader& loader_;
  int batch_size_;
  std::vector<float> params_, grads_, batch_x_;
  std::vector<int32_t> batch_y_;
  InnerOptimizer optimizer_;
  GradientReducer reducer_;
};

}  // namespace fedtrain
