// A whole federated training job on one rank: start-up checks, set-up, rounds, summary.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/crypto/sha256.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

struct JobResult {
  int64_t rounds = 0;
  double test_loss = 0.0;      // valid on the reporting rank
  double test_accuracy = 0.0;  // valid on the reporting rank
  Sha256Digest params_hash{};  // of this rank's final parameters
  std::vector<float> params;   // this rank's final parameters (the global model)
};

// Collective over the world. The first site's leader reports (table on
// stdout, JSON lines in config.metrics_file). Throws Error; start-up failures
// are collective (every rank throws the same).
JobResult run_job(const Config& config, const Topology& topology);

}  // namespace fedtrain
