// Collectives over NCCL on GPU memory, among the ranks of one GPU site (FEDTRAIN_WITH_NCCL).
//
// Creation is collective over the site's MPI communicator:
//   1. site rank 0 draws a unique id (ncclGetUniqueId) and broadcasts its
//      bytes over site_comm (MPI_Bcast);
//   2. every rank calls ncclCommInitRankConfig(site size, id, site rank) on
//      its current CUDA device, in non-blocking mode, and polls until the
//      communicator is ready; a rank that never arrives makes the others fail
//      after site.collective_timeout_s instead of hanging.
// Every collective takes device buffers, is enqueued on the compute stream
// given at creation and returns at once: work enqueued later on that stream
// sees its result. The host learns that it completed only by waiting on that
// stream (CudaSiteTrainer does, through check_async_error and abort below).
// Errors name the NCCL call, the site and the rank, and NCCL's own text.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "runtime/collectives/collectives.h"

namespace fedtrain {

class NcclCollectives : public Collectives {
 public:
  // Throws Error if the communicator has failed asynchronously (a peer died,
  // a network error); the communicator is aborted first.
  virtual void check_async_error() = 0;
  // Aborts the communicator (pending collectives end; it cannot be used again).
  virtual void abort() = 0;
};

// `site_comm` is used only during creation. `where` names the site in errors
// ("site de (rank 1 of 2)"). timeout_s 0: no limit.
std::unique_ptr<NcclCollectives> make_nccl_collectives(const Comm& site_comm, cudaStream_t stream, double timeout_s,
                                                       const std::string& where);

}  // namespace fedtrain
