// Benchmarks behind 'fedtrain bench'. Each prints a table and returns an exit code.
#pragma once

#include <string>
#include <vector>

namespace fedtrain {

// Collective over MPI_COMM_WORLD (MPI already initialised).
int bench_allreduce(const std::vector<std::string>& args);
// Collective over MPI_COMM_WORLD: every rank one site's leader.
int bench_secagg(const std::vector<std::string>& args);
// One process: training step vs sgemm of the same shapes.
int bench_train(const std::vector<std::string>& args);
// One process: checkpoint write vs raw write+fsync of the same bytes.
int bench_checkpoint(const std::vector<std::string>& args);

}  // namespace fedtrain
