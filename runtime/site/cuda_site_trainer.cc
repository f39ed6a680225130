// Synchronous data-parallel training inside one site on GPUs.
#include "runtime/site/cuda_site_trainer.h"

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "fedtrain/features.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/gpt_kernels.h"
#include "kernels/cuda/kernels.h"
#include "runtime/collectives/watchdog.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/model/inner_optimizer.h"
#include "runtime/site/cpu_site_trainer.h"
#include "runtime/site/cuda_device_step.h"
#include "runtime/site/gradient_reducer.h"
#if FEDTRAIN_WITH_NCCL
#include "runtime/collectives/nccl_collectives.h"
#endif

namespace fedtrain {
namespace {

namespace k = kernels::cuda;
using k::DeviceBuffer;
using k::PinnedBuffer;

#if !FEDTRAIN_WITH_NCCL
// Stand-in so that the trainer reads the same with and without NCCL; never created.
class NcclCollectives : public Collectives {
 public:
  virtual void check_async_error() = 0;
  virtual void abort() = 0;
};
#endif

class CudaSiteTrainer final : public SiteTrainer {
 public:
  CudaSiteTrainer(const Config& config, const Topology& topology, const DevicePlan& plan, Collectives& site,
                  Model& model, BatchSource& loader);
  // Lets queued work finish before the buffers it uses are freed.
  ~CudaSiteTrainer() override { CUDA_CHECK_CLEANUP(cudaStreamSynchronize(stream_.get())); }

  std::string describe() const override { return plan_.describe(site_.size()); }
  std::span<const float> params() override;
  BatchSource& loader() override { return loader_; }
  double allreduce_seconds() const override { return nccl_ ? nccl_seconds_ : reducer_->seconds(); }
  LocalStats train(int steps) override;
  void pseudo_gradient(std::span<const float> global, std::span<float> delta) override;
  void set_params(std::span<const float> global) override;
  void broadcast_params() override;
  void save_state(TrainerState& out) override;
  void load_state(const TrainerState& in) override;

 private:
  // The inner optimizer's buffers on the device, named as InnerOptimizer names them.
  std::vector<std::pair<std::string, DeviceBuffer<float>*>> optimizer_buffers();
  void allocate();
  void reduce_gradients(int slot);
  void optimizer_step();
  // Blocks until `event` has completed; with NCCL, polls the communicator and
  // fails after the collective timeout.
  void wait(cudaEvent_t event, const char* what);
  // Waits for everything enqueued so far.
  void sync(const char* what);
  void collect_timing(int slot);

  const InnerOptimizerConfig opt_config_;
  const std::vector<kernels::cpu::ParamRange> decay_;
  const DevicePlan plan_;
  Collectives& site_;  // MPI over site_comm
  Model& model_;
  BatchSource& loader_;
  const int batch_size_;
  const size_t n_;  // parameters
  const uint64_t seed_;
  const double bucket_bytes_;
  const double timeout_s_;
  const std::string where_;

  k::Stream stream_;
  std::unique_ptr<DeviceStep> step_;  // the model's batch copies and kernels (MLP or GPT)
  DeviceBuffer<float> params_, grads_, opt_a_, opt_b_, global_, delta_;
  DeviceBuffer<double> loss_sum_;
  PinnedBuffer<float> host_;       // model-sized staging: params, global model, pseudo-gradient, MPI gradients
  PinnedBuffer<double> host_loss_;
  std::vector<k::Event> step_done_;                      // per batch slot
  std::vector<k::Event> reduce_begin_, reduce_end_;      // per batch slot, timing the NCCL all-reduce
  bool timing_pending_[2] = {false, false};
  k::Event staged_;

  std::unique_ptr<NcclCollectives> nccl_;
  std::optional<GradientReducer> reducer_;  // over nccl_ (device buffers) or site_ (pinned host buffers)
  Watchdog watchdog_;                        // host MPI all-reduces
  double nccl_seconds_ = 0.0;
  int64_t steps_done_ = 0, optimizer_steps_ = 0;
  std::optional<int64_t> hang_before_;
};

CudaSiteTrainer::CudaSiteTrainer(const Config& config, const Topology& topology, const DevicePlan& plan,
                                 Collectives& site, Model& model, BatchSource& loader)
    : opt_config_(config.inner),
      decay_(decay_ranges(model.layout())),
      plan_(plan),
      site_(site),
      model_(model),
      loader_(loader),
      batch_size_(config.batch_size),
      n_(model.param_count()),
      seed_(config.seed),
      bucket_bytes_(config.bucket_mib * 1024 * 1024),
      timeout_s_(config.collective_timeout_s),
      where_("site " + topology.site_name() + " (rank " + std::to_string(topology.site_rank()) + " of " +
             std::to_string(topology.site_size()) + ", GPU " + std::to_string(plan.gpu) + ")"),
      watchdog_(site.size() > 1 && !plan.nccl ? config.collective_timeout_s : 0.0, where_),
      hang_before_(injected_hang_step(config, topology.site_name(), topology.site_rank())) {
  FT_CHECK(plan.cuda);
  // Every rank allocates; the site agrees before NCCL is set up, so that one
  // rank's failure (out of memory) does not leave the others waiting in NCCL.
  std::string error;
  try {
    allocate();
  } catch (const Error& e) {
    error = e.what();
  }
  double failed = error.empty() ? 0.0 : 1.0;
  site_.allreduce_sum(std::span<double>(&failed, 1));
  if (!error.empty()) throw Error("setting up the GPU of " + where_ + ": " + error);
  if (failed > 0) throw Error("another rank of " + where_ + " could not set up its GPU (see its error)");

#if FEDTRAIN_WITH_NCCL
  if (plan.nccl) nccl_ = make_nccl_collectives(topology.site_comm(), stream_.get(), timeout_s_, where_);
#endif
  const size_t bucket = static_cast<size_t>(bucket_bytes_);
  if (nccl_) reducer_.emplace(*nccl_, bucket);
  else reducer_.emplace(site_, bucket);
}

void CudaSiteTrainer::allocate() {
  step_ = make_device_step(model_, batch_size_);
  params_ = DeviceBuffer<float>(n_);
  grads_ = DeviceBuffer<float>(n_);
  const size_t state_buffers = inner_state_names(opt_config_).size();  // the CPU optimizer's buffers, on the GPU
  if (state_buffers > 0) opt_a_ = DeviceBuffer<float>(n_);
  if (state_buffers > 1) opt_b_ = DeviceBuffer<float>(n_);
  global_ = DeviceBuffer<float>(n_);
  delta_ = DeviceBuffer<float>(n_);
  loss_sum_ = DeviceBuffer<double>(1);
  for (int s = 0; s < 2; ++s) {
    step_done_.emplace_back();
    reduce_begin_.emplace_back(/*timing=*/true);
    reduce_end_.emplace_back(/*timing=*/true);
  }
  host_ = PinnedBuffer<float>(n_);
  host_loss_ = PinnedBuffer<double>(1);

  // The same initial parameters as the CPU trainer (same seed, same generator), then zero optimizer state.
  model_.init(host_.span(), seed_);
  CUDA_CHECK(cudaMemcpyAsync(params_.data(), host_.data(), params_.bytes(), cudaMemcpyHostToDevice, stream_.get()));
  if (opt_a_.size() > 0) CUDA_CHECK(cudaMemsetAsync(opt_a_.data(), 0, opt_a_.bytes(), stream_.get()));
  if (opt_b_.size() > 0) CUDA_CHECK(cudaMemsetAsync(opt_b_.data(), 0, opt_b_.bytes(), stream_.get()));
  sync("copying the initial model to the GPU");
}

LocalStats CudaSiteTrainer::train(int steps) {
  const cudaStream_t s = stream_.get();
  CUDA_CHECK(cudaMemsetAsync(loss_sum_.data(), 0, loss_sum_.bytes(), s));
  for (int i = 0; i < steps; ++i) {
    ++steps_done_;
    const int slot = static_cast<int>(steps_done_ % 2);
    // The step two back used this slot's pinned batch: wait for it before refilling.
    wait(step_done_[slot].get(), "a training step");
    collect_timing(slot);
    step_->stage(slot, loader_.next(batch_size_));
    step_->run(s, slot, params_.data(), grads_.data(), loss_sum_.data());
    if (hang_before_ == steps_done_) {
      sync("the step before an injected hang");
      stall_forever("--inject hang");
    }
    reduce_gradients(slot);
    optimizer_step();
    CUDA_CHECK(cudaEventRecord(step_done_[slot].get(), s));
  }
  CUDA_CHECK(cudaMemcpyAsync(host_loss_.data(), loss_sum_.data(), loss_sum_.bytes(), cudaMemcpyDeviceToHost, s));
  sync("the local steps");
  collect_timing(0);
  collect_timing(1);
  LocalStats stats;
  stats.loss_sum = host_loss_.data()[0];
  stats.samples = static_cast<int64_t>(steps) * step_->samples_per_step();
  return stats;
}

void CudaSiteTrainer::reduce_gradients(int slot) {
  if (site_.size() == 1 && !nccl_) return;
  const cudaStream_t s = stream_.get();
  const float inv_size = 1.0f / static_cast<float>(site_.size());
  if (nccl_) {
    // Buckets enqueued on the compute stream, last first; then 1/size on the GPU.
    CUDA_CHECK(cudaEventRecord(reduce_begin_[slot].get(), s));
    reducer_->sum_buckets(grads_.span());
    k::scale(s, grads_.data(), n_, inv_size);
    CUDA_CHECK(cudaEventRecord(reduce_end_[slot].get(), s));
    timing_pending_[slot] = true;
    return;
  }
  // MPI through pinned host memory; the reducer averages on the host.
  CUDA_CHECK(cudaMemcpyAsync(host_.data(), grads_.data(), grads_.bytes(), cudaMemcpyDeviceToHost, s));
  sync("copying gradients to the host");
  {
    auto guard = watchdog_.arm("gradient all-reduce");
    reducer_->average(host_.span());
  }
  CUDA_CHECK(cudaMemcpyAsync(grads_.data(), host_.data(), grads_.bytes(), cudaMemcpyHostToDevice, s));
}

void CudaSiteTrainer::optimizer_step() {
  ++optimizer_steps_;
  const InnerOptimizerConfig& c = opt_config_;
  const float lr = scheduled_lr(c, optimizer_steps_);
  if (c.kind == InnerOptimizerKind::kAdamW) {
    // The CPU optimizer's decay ranges (inner_optimizer.h): weight matrices only.
    k::adamw_step_masked(stream_.get(), params_.data(), grads_.data(), opt_a_.data(), opt_b_.data(), decay_, lr,
                         c.beta1, c.beta2, c.eps, c.weight_decay, optimizer_steps_);
  } else {
    k::sgd_step(stream_.get(), params_.data(), grads_.data(), opt_a_.size() > 0 ? opt_a_.data() : nullptr, n_, lr,
                c.momentum, c.weight_decay, c.nesterov);
  }
}

void CudaSiteTrainer::collect_timing(int slot) {
  if (!timing_pending_[slot]) return;
  float ms = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, reduce_begin_[slot].get(), reduce_end_[slot].get()));
  nccl_seconds_ += ms * 1e-3;
  timing_pending_[slot] = false;
}

void CudaSiteTrainer::wait(cudaEvent_t event, const char* what) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (int polls = 0;; ++polls) {
    const cudaError_t rc = cudaEventQuery(event);
    if (rc == cudaSuccess) return;
    if (rc != cudaErrorNotReady) CUDA_CHECK(rc);
    if (nccl_) {
      nccl_->check_async_error();
      if (timeout_s_ > 0 && std::chrono::duration<double>(Clock::now() - start).count() > timeout_s_) {
        nccl_->abort();
        throw Error(overdue_message(std::string("waiting for ") + what + " (NCCL collectives in it)", where_,
                                    timeout_s_));
      }
    }
    if (polls < 1000) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void CudaSiteTrainer::sync(const char* what) {
  CUDA_CHECK(cudaEventRecord(staged_.get(), stream_.get()));
  wait(staged_.get(), what);
}

std::span<const float> CudaSiteTrainer::params() {
  CUDA_CHECK(cudaMemcpyAsync(host_.data(), params_.data(), params_.bytes(), cudaMemcpyDeviceToHost, stream_.get()));
  sync("copying the parameters to the host");
  return {host_.data(), n_};
}

void CudaSiteTrainer::pseudo_gradient(std::span<const float> global, std::span<float> delta) {
  FT_CHECK(global.size() == n_ && delta.size() == n_);
  const cudaStream_t s = stream_.get();
  std::memcpy(host_.data(), global.data(), n_ * sizeof(float));
  CUDA_CHECK(cudaMemcpyAsync(global_.data(), host_.data(), global_.bytes(), cudaMemcpyHostToDevice, s));
  k::pseudo_gradient(s, delta_.data(), global_.data(), params_.data(), n_);
  CUDA_CHECK(cudaMemcpyAsync(host_.data(), delta_.data(), delta_.bytes(), cudaMemcpyDeviceToHost, s));
  sync("the pseudo-gradient");
  std::memcpy(delta.data(), host_.data(), n_ * sizeof(float));
}

void CudaSiteTrainer::set_params(std::span<const float> global) {
  FT_CHECK(global.size() == n_);
  std::memcpy(host_.data(), global.data(), n_ * sizeof(float));
  CUDA_CHECK(cudaMemcpyAsync(params_.data(), host_.data(), params_.bytes(), cudaMemcpyHostToDevice, stream_.get()));
  sync("copying the global model to the GPU");
}

std::vector<std::pair<std::string, DeviceBuffer<float>*>> CudaSiteTrainer::optimizer_buffers() {
  std::vector<std::pair<std::string, DeviceBuffer<float>*>> out;
  DeviceBuffer<float>* buffers[2] = {&opt_a_, &opt_b_};
  const std::vector<std::string> names = inner_state_names(opt_config_);
  for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], buffers[i]});
  return out;
}

void CudaSiteTrainer::save_state(TrainerState& out) {
  const auto p = params();
  out.params.assign(p.begin(), p.end());
  out.optimizer_names.clear();
  out.optimizer.clear();
  for (auto& [name, buffer] : optimizer_buffers()) {
    CUDA_CHECK(cudaMemcpyAsync(host_.data(), buffer->data(), buffer->bytes(), cudaMemcpyDeviceToHost, stream_.get()));
    sync("copying the optimizer state to the host");
    out.optimizer_names.push_back(name);
    out.optimizer.emplace_back(host_.data(), host_.data() + n_);
  }
  out.optimizer_steps = optimizer_steps_;
  out.loader = loader_.position();
}

void CudaSiteTrainer::load_state(const TrainerState& in) {
  check_state_fits(in, n_, inner_state_names(opt_config_));
  auto buffers = optimizer_buffers();
  loader_.seek(in.loader);
  set_params(in.params);
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::memcpy(host_.data(), in.optimizer[i].data(), n_ * sizeof(float));
    CUDA_CHECK(cudaMemcpyAsync(buffers[i].second->data(), host_.data(), buffers[i].second->bytes(),
                               cudaMemcpyHostToDevice, stream_.get()));
    sync("copying the optimizer state to the GPU");
  }
  optimizer_steps_ = in.optimizer_steps;
}

void CudaSiteTrainer::broadcast_params() {
  if (nccl_) {
    // Non-leaders may have waited here for the other sites' whole round: meet
    // on the host first (MPI, no timeout), so that the NCCL broadcast itself,
    // and the wait that follows it, are short.
    double meet = 0.0;
    site_.allreduce_sum(std::span<double>(&meet, 1));
    nccl_->broadcast(params_.span(), 0);
    return;
  }
  if (site_.size() == 1) return;
  const cudaStream_t s = stream_.get();
  if (site_.rank() == 0) {
    CUDA_CHECK(cudaMemcpyAsync(host_.data(), params_.data(), params_.bytes(), cudaMemcpyDeviceToHost, s));
    sync("copying the global model to the host");
  }
  site_.broadcast(host_.span(), 0);
  CUDA_CHECK(cudaMemcpyAsync(params_.data(), host_.data(), params_.bytes(), cudaMemcpyHostToDevice, s));
  sync("copying the global model to the GPU");
}

}  // namespace

std::unique_ptr<SiteTrainer> make_cuda_site_trainer(const Config& config, const Topology& topology,
                                                    const DevicePlan& plan, Collectives& site, Model& model,
                                                    BatchSource& loader) {
  // The GPU trainer runs the models make_device_step knows (the MLP and the GPT).
  return std::make_unique<CudaSiteTrainer>(config, topology, plan, site, model, loader);
}

}  // namespace fedtrain
