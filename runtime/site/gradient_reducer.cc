// Bucketed gradient averaging inside a site.
#include "runtime/site/gradient_reducer.h"

#include <algorithm>
#include <chrono>

#include "kernels/cpu/kernels.h"

namespace fedtrain {

GradientReducer::GradientReducer(Collectives& site, size_t bucket_bytes)
    : site_(site), bucket_elems_(std::max<size_t>(1, bucket_bytes / sizeof(float))) {}

size_t GradientReducer::bucket_count(size_t elements) const { return (elements + bucket_elems_ - 1) / bucket_elems_; }

void GradientReducer::average(std::span<float> grads) {
  if (site_.size() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  sum_buckets(grads);
  kernels::cpu::scale(grads.data(), grads.size(), 1.0f / static_cast<float>(site_.size()));
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void GradientReducer::sum_buckets(std::span<float> grads) {
  for (size_t end = grads.size(); end > 0;) {
    const size_t begin = end > bucket_elems_ ? end - bucket_elems_ : 0;
    site_.allreduce_sum(grads.subspan(begin, end - begin));
    end = begin;
  }
}

}  // namespace fedtrain
