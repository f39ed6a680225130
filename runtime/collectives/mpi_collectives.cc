// Collectives over an MPI communicator: MPI_Allreduce and MPI_Bcast, in place.
//
// MPI counts are int: buffers above 2^30 elements go in pieces, so no size
// overflows (the runtime is meant for models of many GiB).
#include <algorithm>
#include <climits>

#include "runtime/collectives/collectives.h"
#include "runtime/core/check.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {
namespace {

constexpr size_t kMaxPiece = size_t{1} << 30;  // elements per MPI call

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <>
MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

class MpiCollectives final : public Collectives {
 public:
  explicit MpiCollectives(const Comm& comm) : comm_(comm.get()), rank_(comm.rank()), size_(comm.size()) {}
  const char* name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(std::span<float> data) override { allreduce(data); }
  void allreduce_sum(std::span<double> data) override { allreduce(data); }

  void broadcast(std::span<float> data, int root) override {
    for (size_t off = 0; off < data.size(); off += kMaxPiece) {
      const int n = static_cast<int>(std::min(kMaxPiece, data.size() - off));
      MPI_CHECK(MPI_Bcast(data.data() + off, n, MPI_FLOAT, root, comm_));
    }
  }

  void allgather(std::span<const uint8_t> mine, std::span<uint8_t> all) override {
    FT_CHECK(all.size() == mine.size() * static_cast<size_t>(size_) && mine.size() <= INT_MAX);
    MPI_CHECK(MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_BYTE, all.data(),
                            static_cast<int>(mine.size()), MPI_BYTE, comm_));
  }

 private:
  template <typename T>
  void allreduce(std::span<T> data) {
    for (size_t off = 0; off < data.size(); off += kMaxPiece) {
      const int n = static_cast<int>(std::min(kMaxPiece, data.size() - off));
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data.data() + off, n, mpi_type<T>(), MPI_SUM, comm_));
    }
  }

  MPI_Comm comm_;
  int rank_, size_;
};

}  // namespace

std::unique_ptr<Collectives> make_mpi_collectives(const Comm& comm) { return std::make_unique<MpiCollectives>(comm); }

}  // namespace fedtrain
