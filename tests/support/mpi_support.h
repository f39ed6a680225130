// Test helpers for tests under mpiexec: ranks, digests of every rank, a directory every rank sees.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/config.h"
#include "runtime/crypto/sha256.h"
#include "tests/support/test_support.h"

namespace fedtrain::testing {

int world_rank();
int world_size();
// Every rank's digest, in world rank order (collective).
std::vector<Sha256Digest> gather_digests(const Sha256Digest& mine);

// A temporary directory made by world rank 0 and named to every rank
// (collective); removed after a barrier when destroyed (collective too).
class WorldTempDir {
 public:
  WorldTempDir();
  ~WorldTempDir();
  WorldTempDir(const WorldTempDir&) = delete;
  WorldTempDir& operator=(const WorldTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<TempDir> dir_;  // rank 0 only
  std::string path_;
};

// In `dir`, by world rank 0 then seen by all after a barrier: the tiny job of
// two sites a and b (a.h5: 300 rows, b.h5: 500 rows, test.h5: 200 rows; 20
// features, 4 classes) and a key pair per site (a.key, a.pub, ...).
void write_two_site_job(const std::string& dir);

// The config of that job: 2 sites x 2 ranks, MLP 20-16-4, batch 8, DiLoCo
// outer step, secure aggregation with the sites' keys; metrics and egress
// logs named after `tag`. Tests change what they study.
Config two_site_job_config(const std::string& dir, const std::string& tag);

// A fixture that writes the two-site job into a fresh directory every rank sees.
class TwoSiteJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<WorldTempDir>();
    path_ = dir_->path();
    write_two_site_job(path_);
  }
  void TearDown() override { dir_.reset(); }
  std::unique_ptr<WorldTempDir> dir_;
  std::string path_;
};

}  // namespace fedtrain::testing
