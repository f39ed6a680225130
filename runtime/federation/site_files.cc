// The data files one rank of a site reads, each read in a child process first.
#include "runtime/federation/site_files.h"

#include "runtime/core/error.h"
#include "runtime/io/guarded_read.h"
#include "runtime/io/hdf5_file.h"

namespace fedtrain {
namespace {

constexpr const char* kRemakeImages =
    "make it again with 'fedtrain data fashion-mnist --out DIR --sites ...', or put back a good copy";
constexpr const char* kRemakeText = "make it again with 'fedtrain data text --out DIR --sites ...', or put back a good copy";

// The text of a 'fedtrain data text' file, or a ConfigError for an image dataset.
TokenShard read_text(const std::string& path) {
  {
    H5File f = H5File::open_read(path);
    if (f.has("/features") && !f.has("/tokens"))
      throw ConfigError("HDF5 file '" + path + "' holds /features and /labels (an image dataset), not /tokens: "
                        "model.kind = gpt trains on text from 'fedtrain data text'");
  }
  return read_token_shard(path);
}

}  // namespace

ImageShard read_image_shard(const std::string& what, const std::string& path, int part, int parts, uint64_t seed) {
  return read_guarded(what, kRemakeImages, [&] {
    const DatasetInfo info = inspect_dataset(path);
    return ImageShard{info, std::make_unique<ShardLoader>(path, info, part, parts, seed)};
  });
}

ImageTest read_image_test(const std::string& what, const std::string& path, int part, int parts) {
  return read_guarded(what, kRemakeImages, [&] {
    const DatasetInfo info = inspect_dataset(path);
    return ImageTest{info, make_image_eval_set(path, info, part, parts)};
  });
}

TokenShard read_text_shard(const std::string& what, const std::string& path) {
  return read_guarded(what, kRemakeText, [&] { return read_text(path); });
}

void check_data_file(const std::string& what, const std::string& path, ModelKind kind) {
  if (kind == ModelKind::kGpt) return check_in_child(what, kRemakeText, [&] { (void)read_text(path); });
  check_in_child(what, kRemakeImages, [&] {
    const DatasetInfo info = inspect_dataset(path);
    (void)read_dataset_rows(path, 0, info.rows, info.classes);
  });
}

}  // namespace fedtrain
