// Labelled datasets in HDF5: /features float32 [N, D] in [0, 1] and /labels int32 [N].
//
// Root attributes: "classes" (int64, labels are in [0, classes)) and free-form
// provenance strings. Files from other tools without "classes" are accepted;
// the class count is then taken from the largest label (2 to 2^20 classes).
// A file may be hostile: no shape is believed beyond what the file stores
// (H5File::check_stored), so a forged shape is an Error, not an allocation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fedtrain {

struct DatasetInfo {
  size_t rows = 0;
  size_t features = 0;
  int classes = 0;
};

struct Dataset {
  size_t rows = 0, features = 0;
  std::vector<float> x;     // (rows, features)
  std::vector<int32_t> y;   // (rows)
};

// Checks the shapes and types; throws Error naming the file and dataset.
DatasetInfo inspect_dataset(const std::string& path);
// Rows [row0, row0+rows); checks every label against `classes`.
Dataset read_dataset_rows(const std::string& path, size_t row0, size_t rows, int classes);

// Writes to PATH.tmp and renames onto PATH only when complete, so a failed
// write never leaves a partial file under the final name.
void write_dataset_file(const std::string& path, const Dataset& data, int classes,
                        const std::map<std::string, std::string>& attributes);

}  // namespace fedtrain
