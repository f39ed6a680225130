// Labelled datasets in HDF5.
#include "runtime/data/dataset_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain {
namespace {

constexpr int64_t kMaxClasses = int64_t{1} << 20;

}  // namespace

DatasetInfo inspect_dataset(const std::string& path) {
  H5File f = H5File::open_read(path);
  if (!f.has("/features") && f.has("/tokens"))
    throw ConfigError("HDF5 file '" + path + "' holds /tokens (text from 'fedtrain data text'), not /features and "
                      "/labels: model.kind = mlp trains on images; set model.kind = gpt to train on this text");
  std::vector<size_t> xs = f.shape("/features", H5Type::kFloat32);
  std::vector<size_t> ys = f.shape("/labels", H5Type::kInt32);
  if (xs.size() != 2 || xs[0] == 0 || xs[1] == 0)
    throw Error("HDF5 file '" + path + "': dataset '/features' must be 2-D [N, D] with N, D > 0");
  if (ys.size() != 1 || ys[0] != xs[0])
    throw Error("HDF5 file '" + path + "': dataset '/labels' must be 1-D [N] with N = " + std::to_string(xs[0]) +
                " (the rows of '/features')");
  // Both are read whole by the ranks of a site: no shape may claim more than the file holds.
  f.check_stored("/features");
  f.check_stored("/labels");
  DatasetInfo info{xs[0], xs[1], 0};
  if (f.has_attr("classes")) {
    int64_t c = f.attr_int("classes");
    if (c < 2 || c > kMaxClasses) throw Error("HDF5 file '" + path + "': attribute 'classes' = " + std::to_string(c) + " is not a class count");
    info.classes = static_cast<int>(c);
  } else {
    std::vector<int32_t> labels(info.rows);
    f.read_rows("/labels", H5Type::kInt32, 0, info.rows, 1, labels.data());
    const int64_t top = *std::max_element(labels.begin(), labels.end());
    if (top < 1 || top >= kMaxClasses)
      throw Error("HDF5 file '" + path + "' has no attribute 'classes' and its largest label is " + std::to_string(top) +
                  ", so its labels do not name 2 to " + std::to_string(kMaxClasses) +
                  " classes: set the attribute 'classes' to the class count, or check the labels");
    info.classes = static_cast<int>(top + 1);
  }
  return info;
}

Dataset read_dataset_rows(const std::string& path, size_t row0, size_t rows, int classes) {
  H5File f = H5File::open_read(path);
  std::vector<size_t> xs = f.shape("/features", H5Type::kFloat32);
  if (xs.size() != 2 || rows > xs[0] || row0 > xs[0] - rows)
    throw Error("HDF5 file '" + path + "': rows " + std::to_string(row0) + ".." + std::to_string(row0 + rows) +
                " are outside '/features'");
  Dataset d;
  d.rows = rows;
  d.features = xs[1];
  d.x.resize(rows * d.features);
  d.y.resize(rows);
  f.read_rows("/features", H5Type::kFloat32, row0, rows, d.features, d.x.data());
  f.read_rows("/labels", H5Type::kInt32, row0, rows, 1, d.y.data());
  for (size_t i = 0; i < rows; ++i) {
    if (d.y[i] < 0 || d.y[i] >= classes)
      throw Error("HDF5 file '" + path + "': '/labels' row " + std::to_string(row0 + i) + " holds " +
                  std::to_string(d.y[i]) + ", outside [0, " + std::to_string(classes) + ")");
  }
  return d;
}

void write_dataset_file(const std::string& path, const Dataset& data, int classes,
                        const std::map<std::string, std::string>& attributes) {
  const std::string tmp = path + ".tmp";
  try {
    H5File f = H5File::create(tmp);
    f.write("/features", H5Type::kFloat32, {data.rows, data.features}, data.x.data());
    f.write("/labels", H5Type::kInt32, {data.rows}, data.y.data());
    f.set_attr("classes", static_cast<int64_t>(classes));
    for (const auto& [k, v] : attributes) f.set_attr(k, v);
    f.close();
    std::filesystem::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

}  // namespace fedtrain
