// Fuzz target, in-process variant: a whole checkpoint file, read and verified (read_checkpoint_file,
// as `fedtrain ckpt verify` and every leader's start-up scan do) and listed (list_checkpoint_file,
// `fedtrain ckpt inspect`), runtime/checkpoint/checkpoint_file.cc over runtime/io/hdf5_file.cc and
// libhdf5, all in this process: a crash inside libhdf5 is a crash here, so this is the variant that
// finds libhdf5's crashers (fedtrain itself reads checkpoints through a child process:
// fuzz_checkpoint.cc is that way).
//
// Input: the bytes of an HDF5 file, held in a file. Seeds are real small checkpoints (make_seeds,
// tests/fuzz/seeds/checkpoint/, shared with fuzz_checkpoint).
// An Error is the expected answer to a damaged file; anything else escaping is a finding. A file
// that verifies must hold what its layout says: the model and every optimizer buffer as many floats
// as model_layout counts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/core/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  static fuzz::InputFile file("fuzz-checkpoint-raw.h5");
  const std::string& path = file.hold(data, size);
  try {
    const Checkpoint c = read_checkpoint_file(path);
    const size_t count = parse_layout_text(c.model_layout, "fuzz").count();
    bool ok = c.model.size() == count && !c.data.empty();
    for (const auto& b : c.inner) ok = ok && b.data.size() == count;
    for (const auto& b : c.outer) ok = ok && b.data.size() == count;
    if (!ok) {
      std::fprintf(stderr, "fuzz_checkpoint_raw: a checkpoint verified whose buffers do not match its layout\n");
      std::abort();
    }
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_checkpoint_raw", e);
  }
  try {
    (void)list_checkpoint_file(path);
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_checkpoint_raw", e);
  }
  return 0;
}
