// Fuzz target, in-process variant: a training or test shard in HDF5, read with the readers a site
// uses at start-up: an image dataset (inspect_dataset, then read_dataset_rows of all its rows, as
// ShardLoader and the eval set do; runtime/data/dataset_file.cc) and a text shard
// (read_token_shard, runtime/data/token_shard.cc), all in this process: a crash inside libhdf5 is
// a crash here, so this is the variant that finds libhdf5's crashers (fedtrain itself reads shards
// through a child process: fuzz_dataset.cc is that way).
//
// Input: the bytes of an HDF5 file, held in a file; seeds are small files of both kinds
// (make_seeds, tests/fuzz/seeds/dataset/, shared with fuzz_dataset). An Error (or a ConfigError)
// is the expected answer; anything else escaping is a finding. What reads must be what the reader promises: rows*features floats, every label in
// [0, classes) with classes >= 2, at least 2 tokens.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/token_shard.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_dataset_raw: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  static fuzz::InputFile file("fuzz-dataset-raw.h5");
  const std::string& path = file.hold(data, size);
  try {
    const DatasetInfo info = inspect_dataset(path);
    if (info.rows == 0 || info.features == 0 || info.classes < 2) finding("inspect_dataset accepted an empty shape or < 2 classes");
    const Dataset d = read_dataset_rows(path, 0, info.rows, info.classes);
    if (d.x.size() != info.rows * info.features || d.y.size() != info.rows) finding("read_dataset_rows returned the wrong sizes");
    for (int32_t y : d.y)
      if (y < 0 || y >= info.classes) finding("read_dataset_rows returned a label outside [0, classes)");
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_dataset_raw", e);
  }
  try {
    const TokenShard s = read_token_shard(path);
    if (s.tokens.size() < 2) finding("read_token_shard returned fewer than 2 tokens");
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_dataset_raw", e);
  }
  return 0;
}
