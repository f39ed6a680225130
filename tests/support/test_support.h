// Helpers shared by the tests: temporary directories and small synthetic datasets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/data/dataset_file.h"

namespace fedtrain::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A key pair per site in `dir`: NAME.key (mode 0600) and NAME.pub, as 'fedtrain keygen' writes them.
void write_site_keys(const std::string& dir, const std::vector<std::string>& sites);

// A learnable classification problem: class c lights up feature block c
// (plus noise), so a small MLP separates the classes in a few steps.
Dataset make_blobs(size_t rows, size_t features, int classes, uint64_t seed);

}  // namespace fedtrain::testing
