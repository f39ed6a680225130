// run.device and site.collectives resolved at start-up, collectively over the federation.
#include "runtime/site/device_plan.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fedtrain/features.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/node.h"
#if FEDTRAIN_WITH_CUDA
#include "kernels/cuda/device.h"
#endif

namespace fedtrain {
namespace {

using Uuid = std::array<uint8_t, 16>;

struct GpuProbe {
  int count = 0;
  std::string why;  // why there is none
};

GpuProbe probe_gpus() {
#if FEDTRAIN_WITH_CUDA
  GpuProbe p;
  p.count = kernels::cuda::device_count(&p.why);
  return p;
#else
  return {0, "this fedtrain was built without CUDA"};
#endif
}

// Makes GPU `index` current (creating its context now, so that a busy or
// broken GPU fails the start-up rather than the first step).
void use_gpu(int index, std::string* name, Uuid* uuid) {
#if FEDTRAIN_WITH_CUDA
  CUDA_CHECK(cudaSetDevice(index));
  *name = kernels::cuda::describe_current_device();
  *uuid = kernels::cuda::current_device_uuid();
#else
  (void)index, (void)name, (void)uuid;
  throw Error("internal: no CUDA in this build");
#endif
}

std::string hex(const Uuid& u) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : u) s += digits[b >> 4], s += digits[b & 15];
  return s;
}

}  // namespace

std::string DevicePlan::describe(int site_size) const {
  if (!cuda) return "cpu";
  std::string s = "cuda:" + std::to_string(gpu) + " (" + gpu_name + ")";
  if (nccl) s += ", all-reduce nccl";
  else if (site_size > 1) s += ", all-reduce mpi through host memory";
  return s;
}

namespace {

void refuse_cuda_keys(const Config& config) {
  if (config.device == DeviceKind::kCuda)
    throw ConfigError("run.device = cuda, but this fedtrain was built without CUDA (FEDTRAIN_WITH_CUDA=OFF, or no "
                      "nvcc when it was built): rebuild where the CUDA toolkit is installed, or set run.device = cpu",
                      /*collective=*/true);
  if (config.collectives == SiteCollectivesKind::kNccl)
    throw ConfigError("site.collectives = nccl, but this fedtrain was built without CUDA: set site.collectives = "
                      "auto or mpi",
                      /*collective=*/true);
}

// 1-2. Who sees a GPU (run.device = cuda requires every rank to); with auto,
// the site trains on GPUs only if all its ranks have one.
bool site_on_gpus(const Config& config, TwoLevelAgreement& agreement, Collectives& site, const NodeInfo& node,
                  const GpuProbe& probe) {
  const Topology& topo = agreement.topology();
  std::string error;
  if (config.device == DeviceKind::kCuda && probe.count == 0)
    error = "run.device = cuda, but this rank sees no CUDA device on host " + node.host + " (" + probe.why +
            "): check the driver and CUDA_VISIBLE_DEVICES, or set run.device = auto or cpu";
  agreement.agree_startup(error, kExitRuntime);
  double ranks_with_gpu = probe.count > 0 ? 1.0 : 0.0;
  site.allreduce_sum(std::span<double>(&ranks_with_gpu, 1));
  const bool site_cuda = static_cast<int>(ranks_with_gpu) == site.size();
  if (!site_cuda && topo.is_leader() && ranks_with_gpu > 0)
    log_warn("site " + topo.site_name() + " trains on the CPU: only " + std::to_string(static_cast<int>(ranks_with_gpu)) +
             " of its " + std::to_string(site.size()) + " ranks see a GPU (run.device = auto)");
  return site_cuda;
}

// The lowest site rank whose GPU another rank also uses, or -1; `all` holds every rank's GPU UUID.
int shared_gpu_rank(const std::vector<uint8_t>& all, int ranks) {
  constexpr size_t kUuid = sizeof(Uuid);
  for (int a = 0; a < ranks; ++a)
    for (int b = a + 1; b < ranks; ++b)
      if (std::memcmp(&all[a * kUuid], &all[b * kUuid], kUuid) == 0) return a;
  return -1;
}

// 4. The site's collectives, for a site on GPUs: NCCL where every rank has a GPU of its own (and NCCL is
// built in), unless site.collectives says mpi. Returns the error for site.collectives = nccl that cannot be.
std::string choose_collectives(const Config& config, const Topology& topo, Collectives& site, const Uuid& uuid,
                               DevicePlan& plan) {
  const std::string where = "site " + topo.site_name();
  if (site.size() == 1) {
    // Nothing to all-reduce, so auto and mpi skip NCCL; nccl asked for explicitly still
    // gets a one-rank communicator (its calls are then copies), which checks NCCL itself.
    if (config.collectives != SiteCollectivesKind::kNccl) return "";
    if (FEDTRAIN_WITH_NCCL) plan.nccl = true;
    return !FEDTRAIN_WITH_NCCL && topo.is_leader() ? "site.collectives = nccl, but this fedtrain was built without NCCL"
                                                   : "";
  }
  std::vector<uint8_t> all(uuid.size() * static_cast<size_t>(site.size()));
  site.allgather(uuid, all);
  const int shared_with = shared_gpu_rank(all, site.size());
  std::string why_not;
  if (!FEDTRAIN_WITH_NCCL) {
    why_not = "this fedtrain was built without NCCL";
  } else if (shared_with >= 0) {
    Uuid u;
    std::memcpy(u.data(), &all[shared_with * uuid.size()], u.size());
    why_not = "ranks of " + where + " share GPU " + hex(u) + " (NCCL needs a GPU of its own for every rank)";
  }
  plan.nccl = config.collectives != SiteCollectivesKind::kMpi && why_not.empty();
  if (config.collectives == SiteCollectivesKind::kMpi || why_not.empty() || !topo.is_leader()) return "";
  if (config.collectives == SiteCollectivesKind::kNccl)
    return "site.collectives = nccl, but " + why_not +
           ": start at most as many ranks per node as it has GPUs, or set site.collectives = mpi";
  log_info(where + " all-reduces through host memory with MPI: " + why_not);
  return "";
}

}  // namespace

DevicePlan plan_devices(const Config& config, TwoLevelAgreement& agreement, Collectives& site) {
  const Topology& topo = agreement.topology();
  DevicePlan plan;
  if (config.device == DeviceKind::kCpu) return plan;
  if (!FEDTRAIN_WITH_CUDA) {
    refuse_cuda_keys(config);
    return plan;
  }
  const NodeInfo node = node_info(topo.world());
  const GpuProbe probe = probe_gpus();
  const bool site_cuda = site_on_gpus(config, agreement, site, node, probe);

  // 3. This rank's GPU.
  Uuid uuid{};
  std::string error;
  if (site_cuda) {
    plan.cuda = true;
    plan.gpu = node.local_rank % probe.count;
    try {
      use_gpu(plan.gpu, &plan.gpu_name, &uuid);
    } catch (const Error& e) {
      error = "cannot use GPU " + std::to_string(plan.gpu) + " of host " + node.host + ": " + e.what();
    }
  }
  agreement.agree_startup(error, kExitRuntime);

  // 4. The site's collectives.
  if (!site_cuda) {
    if (config.collectives == SiteCollectivesKind::kNccl && topo.is_leader())
      error = "site.collectives = nccl, but site " + topo.site_name() + " trains on the CPU (not every rank sees a GPU)";
  } else {
    error = choose_collectives(config, topo, site, uuid, plan);
  }
  agreement.agree_startup(error, kExitRuntime);
  return plan;
}

}  // namespace fedtrain
