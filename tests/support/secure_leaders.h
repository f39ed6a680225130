// Test helper: every rank of a communicator as a site leader with a fresh key pair.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/crypto/key_schedule.h"
#include "runtime/crypto/manifest.h"

namespace fedtrain::testing {

struct SecureLeaders {
  // Collective over `comm`: sites "s0", "s1", ...; keys exchanged with MPI_Allgather.
  explicit SecureLeaders(const Comm& comm, const std::string& job_id = "test");
  std::vector<std::string> sites;
  std::unique_ptr<Manifest> manifest;
  std::unique_ptr<KeySchedule> schedule;
  std::unique_ptr<Transport> transport;
};

}  // namespace fedtrain::testing
