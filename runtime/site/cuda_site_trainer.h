// Synchronous data-parallel training inside one site on GPUs: cuBLAS and CUDA kernels, NCCL or MPI all-reduce.
//
// Parameters, gradients and optimizer state live on the rank's GPU; one
// stream carries everything in order:
//   H2D batch (from a pinned buffer the loader filled) -> forward/backward
//   (CudaMlp or CudaGpt, cuda_device_step.h) -> gradient all-reduce: NCCL buckets on the same stream, or
//   D2H + MPI + H2D through pinned host memory -> 1/site_size -> optimizer step.
// The host fills the next batch while the GPU runs the current step (two
// pinned batch buffers); it waits for a step only when it reuses its buffer,
// and every such wait polls with the collective watchdog: a NCCL collective
// that does not complete within site.collective_timeout_s aborts the
// communicator and stops the job with an error.
//
// The leader's round work crosses to the host: the pseudo-gradient is computed
// on the GPU and copied to pinned host memory for the inter-site exchange; the
// new global model is copied back to the GPU and broadcast in the site (NCCL
// after a host barrier, so the broadcast's wait is bounded, or MPI).
#pragma once

#include <memory>

#include "runtime/site/device_plan.h"
#include "runtime/site/site_trainer.h"

namespace fedtrain {

// `plan` must say cuda (its GPU already current). Collective over the site
// (agrees on the GPU set-up, then creates the NCCL communicator). Throws Error.
std::unique_ptr<SiteTrainer> make_cuda_site_trainer(const Config& config, const Topology& topology,
                                                    const DevicePlan& plan, Collectives& site, Model& model,
                                                    BatchSource& loader);

}  // namespace fedtrain
