// A Collectives decorator that counts the bytes this member sends, for the egress report.
//
// MPI does not say how many bytes an MPI_Allreduce puts on the wire, so the
// count is the volume of the bandwidth-optimal algorithm, the same model
// nccl-tests uses for busbw: per member, allreduce 2(n-1)/n * bytes,
// broadcast (n-1)/n * bytes, allgather (n-1) * bytes. Summed over all
// members it is the traffic that crossed the communicator.
#pragma once

#include <cstdint>

#include "runtime/collectives/collectives.h"

namespace fedtrain {

class MeteredCollectives final : public Collectives {
 public:
  explicit MeteredCollectives(Collectives& inner) : inner_(inner) {}
  const char* name() const override { return inner_.name(); }
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void allreduce_sum(std::span<float> data) override;
  void allreduce_sum(std::span<double> data) override;
  void broadcast(std::span<float> data, int root) override;
  void allgather(std::span<const uint8_t> mine, std::span<uint8_t> all) override;

  uint64_t sent_bytes() const { return sent_bytes_; }

 private:
  void count_allreduce(size_t bytes);
  Collectives& inner_;
  uint64_t sent_bytes_ = 0;
};

}  // namespace fedtrain
