// Fuzz target: a training or test shard in HDF5, read the way fedtrain reads one: through the
// child-process guard (runtime/federation/site_files.cc over runtime/io/guarded_read.cc), as
// `fedtrain config` checks it (check_data_file, in a child only) and as a rank loads it at start-up
// (read_image_shard, read_image_test, read_text_shard: in a child, then here).
//
// Input: the bytes of an HDF5 file, held in a file; seeds are those of fuzz_dataset_raw
// (tests/fuzz/seeds/dataset/), and ctest also replays tests/fuzz/libhdf5/, the files on which
// libhdf5 itself crashes. A crash inside libhdf5 happens in the child and must come back as the
// Error fedtrain gives ("libhdf5 crashed reading it"); an Error is the expected answer to any bad
// file. A finding: anything else escaping, a crash or sanitizer report in this process (fedtrain's
// guard, or the reader run here after a clean child), what reads not being what the reader promises
// (rows*features floats, labels in [0, classes), >= 2 classes, >= 2 tokens), or `fedtrain config`
// and a rank's load disagreeing on whether the file is good. What runs inside the child is not
// seen by libFuzzer's coverage: fuzz_dataset_raw fuzzes the readers themselves.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/core/error.h"
#include "runtime/federation/site_files.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace fedtrain;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_dataset: %s\n", what.c_str());
  std::abort();
}

// Whether `read` gave a good file (false: the Error that a bad one must give).
template <class Read>
bool good(Read&& read) {
  try {
    read();
    return true;
  } catch (const Error& e) {
    fuzz::rejected("fuzz_dataset", e);
    return false;
  }
}

void check_images(const std::string& path) {
  const bool config_ok = good([&] { check_data_file("'" + path + "'", path, ModelKind::kMlp); });
  const bool shard_ok = good([&] {
    const ImageShard s = read_image_shard("training data '" + path + "'", path, 0, 1, 7);
    if (s.info.rows == 0 || s.info.features == 0 || s.info.classes < 2) finding("an empty shape or < 2 classes");
    if (s.loader->rows() != s.info.rows || s.loader->features() != s.info.features) finding("a loader of the wrong size");
    const Batch b = s.loader->next(static_cast<int>(std::min<size_t>(s.info.rows, 64)));
    for (int i = 0; i < b.size; ++i)
      if (b.labels[i] < 0 || b.labels[i] >= s.info.classes) finding("a label outside [0, classes)");
  });
  if (config_ok != shard_ok) finding(std::string("fedtrain config ") + (config_ok ? "accepts" : "rejects") +
                                     " an image file that a rank's load " + (shard_ok ? "accepts" : "rejects"));
  (void)good([&] {
    const ImageTest t = read_image_test("test file '" + path + "'", path, 0, 1);
    if (t.eval->batches() == 0) finding("a test file without a batch");
  });
}

void check_text(const std::string& path) {
  const bool config_ok = good([&] { check_data_file("'" + path + "'", path, ModelKind::kGpt); });
  const bool shard_ok = good([&] {
    if (read_text_shard("training text '" + path + "'", path).tokens.size() < 2) finding("fewer than 2 tokens");
  });
  if (config_ok != shard_ok) finding(std::string("fedtrain config ") + (config_ok ? "accepts" : "rejects") +
                                     " a text file that a rank's load " + (shard_ok ? "accepts" : "rejects"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool plain = (fedtrain::fuzz::plain_children(), true);
  (void)plain;
  static fuzz::InputFile file("fuzz-dataset.h5");
  const std::string& path = file.hold(data, size);
  check_images(path);
  check_text(path);
  return 0;
}
