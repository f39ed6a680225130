// Test helper: every rank of a communicator as a site leader with a fresh key pair.
#include "tests/support/secure_leaders.h"

#include <mpi.h>

#include <algorithm>

namespace fedtrain::testing {

SecureLeaders::SecureLeaders(const Comm& comm, const std::string& job_id) {
  const int n = comm.size();
  for (int s = 0; s < n; ++s) sites.push_back("s" + std::to_string(s));
  SecretKey key = SecretKey::generate();
  const PublicKey mine = key.public_key();
  std::vector<uint8_t> all(32 * static_cast<size_t>(n));
  MPI_Allgather(mine.data(), 32, MPI_BYTE, all.data(), 32, MPI_BYTE, comm.get());
  std::vector<ManifestEntry> entries;
  for (int s = 0; s < n; ++s) {
    ManifestEntry e{sites[s], {}};
    std::copy(all.begin() + 32 * s, all.begin() + 32 * (s + 1), e.public_key.begin());
    entries.push_back(e);
  }
  manifest = std::make_unique<Manifest>(entries);
  schedule = std::make_unique<KeySchedule>(*manifest, comm.rank(), key, job_id);
  transport = make_mpi_transport(comm);
}

}  // namespace fedtrain::testing
