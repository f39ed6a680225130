// The collectives a site (or the leaders) run on float buffers, behind one narrow interface.
//
// Algorithms in site/ and federation/ see only this interface; the MPI
// implementation serves CPU sites and the leaders, the NCCL one serves GPU
// sites (FEDTRAIN_WITH_CUDA). make_collectives() is the one factory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "runtime/topology/comm.h"

namespace fedtrain {

class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual const char* name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place elementwise sum over all members.
  virtual void allreduce_sum(std::span<float> data) = 0;
  virtual void allreduce_sum(std::span<double> data) = 0;
  // Root's buffer to every member.
  virtual void broadcast(std::span<float> data, int root) = 0;
  // Every member's `mine` (same size everywhere) into `all`, in rank order.
  virtual void allgather(std::span<const uint8_t> mine, std::span<uint8_t> all) = 0;
};

// MPI over `comm` (which must outlive the result).
std::unique_ptr<Collectives> make_mpi_collectives(const Comm& comm);

}  // namespace fedtrain
