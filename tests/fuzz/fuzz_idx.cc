// Fuzz target: an IDX file of (Fashion-)MNIST, plain or gzip, read as images and as labels
// (read_idx_images, read_idx_labels; runtime/data/idx_reader.cc over zlib).
//
// Input: the file's bytes, held in a file. An Error is the expected answer to a bad file; anything
// else escaping is a finding. Images that read hold count*rows*cols pixels.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "runtime/core/error.h"
#include "runtime/data/idx_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  static fuzz::InputFile file("fuzz-images.idx");
  const std::string& path = file.hold(data, size);
  try {
    const IdxImages img = read_idx_images(path);
    if (img.pixels.size() != img.count * img.rows * img.cols) {
      std::fprintf(stderr, "fuzz_idx: %zu pixels for %zux%zux%zu images\n", img.pixels.size(), img.count, img.rows,
                   img.cols);
      std::abort();
    }
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_idx", e);
  }
  try {
    (void)read_idx_labels(path);
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_idx", e);
  }
  return 0;
}
