// Test helpers for tests under mpiexec.
#include "tests/support/mpi_support.h"

#include <mpi.h>

#include <cstdio>

#include "runtime/data/dataset_file.h"

namespace fedtrain::testing {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int world_size() {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

std::vector<Sha256Digest> gather_digests(const Sha256Digest& mine) {
  std::vector<Sha256Digest> all(world_size());
  MPI_Allgather(mine.data(), 32, MPI_BYTE, all.data(), 32, MPI_BYTE, MPI_COMM_WORLD);
  return all;
}

WorldTempDir::WorldTempDir() {
  char path[4096] = {0};
  if (world_rank() == 0) {
    dir_ = std::make_unique<TempDir>();
    std::snprintf(path, sizeof path, "%s", dir_->path().c_str());
  }
  MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
  path_ = path;
}

WorldTempDir::~WorldTempDir() { MPI_Barrier(MPI_COMM_WORLD); }

void write_two_site_job(const std::string& dir) {
  if (world_rank() == 0) {
    write_dataset_file(dir + "/a.h5", make_blobs(300, 20, 4, 1), 4, {});
    write_dataset_file(dir + "/b.h5", make_blobs(500, 20, 4, 2), 4, {});
    write_dataset_file(dir + "/test.h5", make_blobs(200, 20, 4, 3), 4, {});
    write_site_keys(dir, {"a", "b"});
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

Config two_site_job_config(const std::string& dir, const std::string& tag) {
  Config c;
  c.job_id = tag;
  c.test_file = dir + "/test.h5";
  c.metrics_file = dir + "/" + tag + ".jsonl";
  c.hidden = {16};
  c.batch_size = 8;
  c.outer = OuterOptimizerConfig{0.7f, 0.9f, true};
  c.exchange.allow_two_participants = true;  // two sites: each learns the other's update
  for (const char* name : {"a", "b"}) {
    const std::string site = name;
    c.sites.push_back({.name = site, .ranks = 2, .data = dir + "/" + site + ".h5",
                       .public_key_file = dir + "/" + site + ".pub", .secret_key = dir + "/" + site + ".key",
                       .egress_log = dir + "/" + tag + "-egress-" + site + ".jsonl"});
  }
  return c;
}

}  // namespace fedtrain::testing
