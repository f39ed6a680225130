// MPI_CHECK: every MPI return code is checked; a failure throws an Error naming the call.
//
// MPI_COMM_WORLD is switched to MPI_ERRORS_RETURN at start-up (MpiSession), and
// communicators split from it inherit that handler, so codes reach this check.
#pragma once

#include <mpi.h>

#include <string>

namespace fedtrain::detail {
void mpi_failed(int rc, const char* call, const char* file, int line);
}

#define MPI_CHECK(call)                                                        \
  do {                                                                         \
    int mpi_check_rc_ = (call);                                                \
    if (mpi_check_rc_ != MPI_SUCCESS)                                          \
      ::fedtrain::detail::mpi_failed(mpi_check_rc_, #call, __FILE__, __LINE__); \
  } while (0)
