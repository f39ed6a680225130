// A Collectives decorator that counts the bytes this member sends.
#include "runtime/collectives/metered_collectives.h"

namespace fedtrain {

void MeteredCollectives::count_allreduce(size_t bytes) {
  const uint64_t n = static_cast<uint64_t>(size());
  sent_bytes_ += 2 * (n - 1) * bytes / n;
}

void MeteredCollectives::allreduce_sum(std::span<float> data) {
  inner_.allreduce_sum(data);
  count_allreduce(data.size_bytes());
}

void MeteredCollectives::allreduce_sum(std::span<double> data) {
  inner_.allreduce_sum(data);
  count_allreduce(data.size_bytes());
}

void MeteredCollectives::broadcast(std::span<float> data, int root) {
  inner_.broadcast(data, root);
  const uint64_t n = static_cast<uint64_t>(size());
  sent_bytes_ += (n - 1) * data.size_bytes() / n;
}

void MeteredCollectives::allgather(std::span<const uint8_t> mine, std::span<uint8_t> all) {
  inner_.allgather(mine, all);
  sent_bytes_ += static_cast<uint64_t>(size() - 1) * mine.size();
}

}  // namespace fedtrain
