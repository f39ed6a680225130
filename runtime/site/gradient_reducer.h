// Averages the gradients of a site's ranks with bucketed all-reduces.
//
// The flat gradient buffer is cut into buckets of at most `bucket_bytes`,
// reduced last bucket first (the order backward produces them, so a transport
// that can overlap communication with backward gets the buckets in the order
// they become ready), then scaled by 1/site_size. The buckets go through any
// Collectives: host buffers with MPI, device buffers with NCCL (then the
// caller scales on the GPU; see CudaSiteTrainer).
#pragma once

#include <span>

#include "runtime/collectives/collectives.h"

namespace fedtrain {

class GradientReducer {
 public:
  GradientReducer(Collectives& site, size_t bucket_bytes);
  // Sum over the site, then 1/site_size (host buffers); timed.
  void average(std::span<float> grads);
  // Only the bucketed sum, in the buffers' own memory; not timed.
  void sum_buckets(std::span<float> grads);
  size_t bucket_count(size_t elements) const;
  // Wall time spent in all-reduces since construction.
  double seconds() const { return seconds_; }

 private:
  Collectives& site_;
  size_t bucket_elems_;
  double seconds_ = 0.0;
};

}  // namespace fedtrain
