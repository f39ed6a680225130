// Start-up agreement over the world: all ranks learn whether any rank's checks failed.
//
// Each rank validates what only it can see (its site's data file, the key file
// of its site); then one all-reduce tells every rank the outcome, so the job
// either starts everywhere or ends everywhere with the same exit code, instead
// of some ranks hanging in a collective while one has died.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "runtime/topology/comm.h"

namespace fedtrain {

// `local_error` empty: this rank is fine. Otherwise it is logged here, and on
// every rank a collective Error with the highest `exit_code` seen is thrown.
void agree_startup(const Comm& world, const std::string& local_error, int exit_code);

// Minimum and maximum of `value` over the communicator.
std::pair<int64_t, int64_t> min_max(const Comm& comm, int64_t value);

}  // namespace fedtrain
