// MPI session around a subcommand, and the mapping of errors to exit codes.
#include <mpi.h>

#include <cstdio>
#include <exception>

#include "launch/commands.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/comm.h"

namespace fedtrain {

int report_error(const std::exception& e) {
  const auto* err = dynamic_cast<const Error*>(&e);
  log_error(e.what());
  return err != nullptr ? err->exit_code() : kExitRuntime;
}

int with_mpi(int argc, char** argv, int (*body)(void*), void* arg) {
  int code = kExitOk;
  try {
    MpiSession session(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    try {
      code = body(arg);
    } catch (const Error& e) {
      if (!e.collective()) {
        code = report_error(e);
        std::fflush(nullptr);
        MPI_Abort(MPI_COMM_WORLD, code);
      }
      if (rank == 0) report_error(e);
      code = e.exit_code();
    } catch (const std::exception& e) {
      code = report_error(e);
      std::fflush(nullptr);
      MPI_Abort(MPI_COMM_WORLD, code);
    }
  } catch (const std::exception& e) {
    return report_error(e);  // MPI itself failed to start
  }
  return code;
}

}  // namespace fedtrain
