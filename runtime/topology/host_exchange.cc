// Small exchanges of host memory over a communicator.
#include "runtime/topology/host_exchange.h"

#include <algorithm>
#include <climits>

#include "runtime/core/check.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {

int max_over(const Comm& comm, int value) {
  int out = 0;
  MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, comm.get()));
  return out;
}

bool all_of(const Comm& comm, bool value) {
  int in = value ? 1 : 0, out = 0;
  MPI_CHECK(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, comm.get()));
  return out == 1;
}

void broadcast_bytes(const Comm& comm, void* data, size_t bytes, int root) {
  constexpr size_t kPiece = size_t{1} << 30;
  auto* p = static_cast<char*>(data);
  for (size_t off = 0; off < bytes; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    MPI_CHECK(MPI_Bcast(p + off, n, MPI_BYTE, root, comm.get()));
  }
}

std::vector<std::string> allgather_strings(const Comm& comm, const std::string& mine) {
  const int n = comm.size();
  FT_CHECK(mine.size() <= INT_MAX);
  int my_len = static_cast<int>(mine.size());
  std::vector<int> lens(n), offsets(n);
  MPI_CHECK(MPI_Allgather(&my_len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm.get()));
  long long total = 0;
  for (int i = 0; i < n; ++i) {
    offsets[i] = static_cast<int>(total);
    total += lens[i];
    FT_CHECK(total <= INT_MAX, "allgather_strings is for small messages");
  }
  std::string all(static_cast<size_t>(total), '\0');
  MPI_CHECK(MPI_Allgatherv(mine.data(), my_len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR,
                           comm.get()));
  std::vector<std::string> out(n);
  for (int i = 0; i < n; ++i) out[i] = all.substr(offsets[i], lens[i]);
  return out;
}

}  // namespace fedtrain
