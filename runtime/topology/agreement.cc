// Start-up agreement over the world.
#include "runtime/topology/agreement.h"

#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {

void agree_startup(const Comm& world, const std::string& local_error, int exit_code) {
  int mine[2] = {local_error.empty() ? 0 : exit_code, local_error.empty() ? 0 : 1};
  if (!local_error.empty()) log_error(local_error);
  int worst = 0, failed = 0;
  MPI_CHECK(MPI_Allreduce(&mine[0], &worst, 1, MPI_INT, MPI_MAX, world.get()));
  MPI_CHECK(MPI_Allreduce(&mine[1], &failed, 1, MPI_INT, MPI_SUM, world.get()));
  if (failed > 0) {
    throw Error("start-up checks failed on " + std::to_string(failed) + " of " + std::to_string(world.size()) +
                    " ranks (reasons above); nothing was trained",
                worst, /*collective=*/true);
  }
}

std::pair<int64_t, int64_t> min_max(const Comm& comm, int64_t value) {
  int64_t in[2] = {value, -value}, out[2] = {0, 0};
  MPI_CHECK(MPI_Allreduce(in, out, 2, MPI_INT64_T, MPI_MIN, comm.get()));
  return {out[0], -out[1]};
}

}  // namespace fedtrain
