// Synchronous data-parallel training inside one site: the interface RoundDriver uses, and its factory.
//
// One inner step on every rank of the site:
//   loader batch -> forward/backward -> bucketed all-reduce of the gradients
//   over the site (average) -> identical optimizer step.
// Every rank starts from the same parameters and applies the same averaged
// gradient, so the replicas stay bit-identical without further traffic.
//
// Two implementations: CpuSiteTrainer (OpenBLAS, MPI; cpu_site_trainer.h) and
// CudaSiteTrainer (cuBLAS and CUDA kernels, NCCL or MPI; cuda_site_trainer.h).
// Parameters, gradients and optimizer state live where the implementation
// keeps them (host or GPU memory); everything that crosses this interface is
// a host buffer. State that a checkpoint saves or restores crosses it the same
// way: copied to or from host buffers, whatever the device.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/collectives/collectives.h"
#include "runtime/collectives/two_level_agreement.h"
#include "runtime/core/config.h"
#include "runtime/data/batch_source.h"
#include "runtime/model/model.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

// Everything one rank needs to continue training exactly where it stood, in
// host memory (a trainer on a GPU copies from and to the device). At a round
// boundary `params` is theta_global on every rank of every site.
struct TrainerState {
  std::vector<float> params;                  // (param_count), ParamLayout order
  std::vector<std::string> optimizer_names;   // the inner optimizer's buffers: "momentum", or "exp_avg", "exp_avg_sq"
  std::vector<std::vector<float>> optimizer;  // one (param_count) buffer per name, ParamLayout order
  int64_t optimizer_steps = 0;                // inner steps taken (AdamW's bias correction needs it)
  BatchSource::Position loader;               // this rank's place in its data
};

struct LocalStats {
  double loss_sum = 0.0;  // over this rank's samples
  int64_t samples = 0;
};

class SiteTrainer {
 public:
  virtual ~SiteTrainer() = default;

  // "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB), all-reduce nccl"
  virtual std::string describe() const = 0;
  // This rank's parameters in host memory (a GPU trainer copies them from the
  // device first); valid until the next call on the trainer.
  virtual std::span<const float> params() = 0;
  virtual BatchSource& loader() = 0;
  // Time spent in gradient all-reduces since construction (wall time on the
  // host; GPU time between events for NCCL on the GPU's stream).
  virtual double allreduce_seconds() const = 0;

  // Runs `steps` inner steps; returns this rank's training loss over them.
  virtual LocalStats train(int steps) = 0;
  // delta = global - params: this site's pseudo-gradient (host buffers, model-sized).
  virtual void pseudo_gradient(std::span<const float> global, std::span<float> delta) = 0;
  // params = global (on the leader, before broadcast_params).
  virtual void set_params(std::span<const float> global) = 0;
  // The site leader's parameters to every rank of the site.
  virtual void broadcast_params() = 0;

  // Copies this rank's whole training state out (for checkpoints), or back in
  // (on resume), in host memory. load_state throws Error if the state does not
  // fit this trainer (other model size or optimizer).
  virtual void save_state(TrainerState& out) = 0;
  virtual void load_state(const TrainerState& in) = 0;
};

// Throws Error unless `in` fits a trainer of `param_count` parameters whose
// inner optimizer keeps the buffers `state_names` (inner_state_names()): the
// one check both trainers' load_state make before they change anything.
void check_state_fits(const TrainerState& in, size_t param_count, const std::vector<std::string>& state_names);

// Collective over the federation (start-up): resolves run.device and
// site.collectives for this rank's site (runtime/site/device_plan.h), then
// builds the CPU or the GPU trainer. `site` is the site's MPI collectives, which
// must outlive the trainer, as must model and loader. Throws collective errors.
std::unique_ptr<SiteTrainer> make_site_trainer(const Config& config, TwoLevelAgreement& agreement, Collectives& site,
                                               Model& model, BatchSource& loader);

}  // namespace fedtrain
