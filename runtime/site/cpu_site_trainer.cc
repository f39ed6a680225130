// Synchronous data-parallel training inside one site on the CPU.
#include "runtime/site/cpu_site_trainer.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/core/injection.h"
#include "runtime/core/log.h"

namespace fedtrain {

CpuSiteTrainer::CpuSiteTrainer(const Config& config, const Topology& topology, Collectives& site, Model& model,
                               BatchSource& loader)
    : site_(site),
      model_(model),
      loader_(loader),
      batch_size_(config.batch_size),
      inner_config_(config.inner),
      params_(model.param_count()),
      grads_(model.param_count()),
      optimizer_(config.inner, model.layout()),
      reducer_(site, static_cast<size_t>(config.bucket_mib * 1024 * 1024)),
      watchdog_(site.size() > 1 ? config.collective_timeout_s : 0.0,
                "site " + topology.site_name() + " (rank " + std::to_string(topology.site_rank()) + " of " +
                    std::to_string(topology.site_size()) + ")"),
      hang_before_(injected_hang_step(config, topology.site_name(), topology.site_rank())) {
  model_.init(params_, config.seed);
}

LocalStats CpuSiteTrainer::train(int steps) {
  LocalStats stats;
  for (int s = 0; s < steps; ++s) {
    ++steps_done_;
    const Batch batch = loader_.next(batch_size_);
    BatchStats b = model_.forward_backward(params_, batch, grads_);
    if (hang_before_ == steps_done_) stall_forever("--inject hang");
    {
      auto guard = watchdog_.arm("gradient all-reduce");
      reducer_.average(grads_);
    }
    optimizer_.step(params_, grads_);
    stats.loss_sum += b.loss_sum;
    stats.samples += b.samples;
  }
  return stats;
}

void CpuSiteTrainer::pseudo_gradient(std::span<const float> global, std::span<float> delta) {
  FT_CHECK(global.size() == params_.size() && delta.size() == params_.size());
  kernels::cpu::pseudo_gradient(delta.data(), global.data(), params_.data(), params_.size());
}

void CpuSiteTrainer::set_params(std::span<const float> global) {
  FT_CHECK(global.size() == params_.size());
  std::copy(global.begin(), global.end(), params_.begin());
}

void CpuSiteTrainer::broadcast_params() {
  if (site_.size() > 1) site_.broadcast(params_, 0);
}

std::optional<int64_t> injected_hang_step(const Config& config, const std::string& site, int site_rank) {
  for (const Injection& in : parse_injections(config.inject)) {
    if (in.kind != "hang" || in.site != site) continue;
    const std::string where = "--inject hang:site=" + site;
    const long long rank = config_values::parse_int(where + " rank", in.get("rank", "0"), 0, 1 << 20);
    const long long step = config_values::parse_int(where + " step", in.get("step", ""), 1, 1LL << 40);
    if (rank == site_rank) return step;
  }
  return std::nullopt;
}

void stall_forever(const std::string& why) {
  log_warn(why + ": this rank stalls here on purpose");
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

void CpuSiteTrainer::save_state(TrainerState& out) {
  out.params.assign(params_.begin(), params_.end());
  out.optimizer_names.clear();
  out.optimizer.clear();
  for (const InnerOptimizer::State& s : optimizer_.state()) {
    out.optimizer_names.push_back(s.name);
    out.optimizer.push_back(*s.buffer);
  }
  out.optimizer_steps = optimizer_.steps();
  out.loader = loader_.position();
}

void CpuSiteTrainer::load_state(const TrainerState& in) {
  check_state_fits(in, params_.size(), inner_state_names(inner_config_));
  std::vector<InnerOptimizer::State> state = optimizer_.state();
  loader_.seek(in.loader);  // the one step that can fail on good input (a shard that shrank): first
  std::copy(in.params.begin(), in.params.end(), params_.begin());
  for (size_t i = 0; i < state.size(); ++i) *state[i].buffer = in.optimizer[i];
  optimizer_.set_steps(in.optimizer_steps);
}

}  // namespace fedtrain
