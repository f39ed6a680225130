// Where the ranks of a site train and how the site all-reduces: run.device and site.collectives resolved at start-up.
//
// Collective over the federation (two levels, two_level_agreement.h), once at start-up:
//   1. run.device = cpu: every rank on the CPU, MPI collectives.
//   2. Otherwise every rank counts the GPUs it sees (none in a build without
//      CUDA, where run.device = cuda is a config error).
//      cuda: a rank without a GPU fails the start-up on every rank (exit 1).
//      auto: a site trains on GPUs only when every one of its ranks sees one,
//      else on the CPU (sites decide independently: a CPU site and a GPU site
//      can train together).
//   3. A rank of a GPU site takes GPU local_rank % count, where local_rank is
//      its rank among the job's processes on its node (MPI_COMM_TYPE_SHARED).
//   4. A GPU site of more than one rank all-reduces with NCCL only if every
//      rank has a GPU of its own (NCCL refuses two ranks on one GPU): the ranks
//      compare their GPUs' UUIDs. nccl with a shared GPU fails the start-up;
//      auto falls back to mpi (gradients through pinned host memory) and says
//      so; a build without NCCL always uses mpi. A one-rank site needs no
//      all-reduce: it uses NCCL only when nccl is asked for explicitly (a
//      one-rank communicator, which exercises NCCL on a single GPU).
#pragma once

#include <string>

#include "runtime/collectives/collectives.h"
#include "runtime/collectives/two_level_agreement.h"
#include "runtime/core/config.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

struct DevicePlan {
  bool cuda = false;
  int gpu = -1;           // CUDA device index on this node (cuda only); already made current
  std::string gpu_name;   // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"
  bool nccl = false;      // the site's gradient all-reduce and model broadcast go through NCCL

  // "cpu" | "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB), all-reduce nccl"
  std::string describe(int site_size) const;
};

// `site` is the site's MPI collectives. Throws collective Errors (the same on every rank).
DevicePlan plan_devices(const Config& config, TwoLevelAgreement& agreement, Collectives& site);

}  // namespace fedtrain
