// Fuzz target: a checkpoint file read the way fedtrain reads one, through the child-process guard:
// a leader's start-up scan (scan_checkpoints, runtime/checkpoint/resume_agreement.cc: the file read
// and checked in a child), then, for a file the scan found intact, the resume's read of it in the
// leader itself (read_checkpoint_file and checkpoint_misfit, as federation/checkpointer.cc does);
// and the listing of `fedtrain ckpt inspect` in a child (list_checkpoint_file, as launch/cmd_ckpt.cc).
//
// Input: the bytes of an HDF5 file, held as round-000003.h5 in a folder of its own (a checkpoint
// store); seeds are those of fuzz_checkpoint_raw (tests/fuzz/seeds/checkpoint/, round 3), and
// ctest also replays tests/fuzz/libhdf5/. The scan runs twice, expecting the run of either seed
// (plain FedAvg; momentum inner and outer, 2 ranks), so that a seed is intact for one of them. A
// crash inside libhdf5 happens in a child and must come back as what fedtrain does with it (the
// file counted damaged; a failed inspect); an Error is the expected answer to a bad file. A finding:
// anything else escaping, a crash or sanitizer report in this process (the guard, the scan's
// bookkeeping, the resume's read after a clean scan), a file the scan calls intact that the resume
// cannot read or that does not fit, or one whose buffers do not match its layout. What runs inside
// a child is not seen by libFuzzer's coverage: fuzz_checkpoint_raw fuzzes the reader itself.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/checkpoint/resume_agreement.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/io/child_process.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace fedtrain;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_checkpoint: %s\n", what.c_str());
  std::abort();
}

// The runs of the two seeds (make_seeds.cc, small_checkpoint).
CheckpointExpectation expect(bool momentum) {
  CheckpointExpectation e;
  e.job_id = "fuzz";
  e.site = "es";
  e.sites = {"es", "de", "fr"};
  e.model_layout = "layers.0.weight:3x4,layers.0.bias:3";
  if (momentum) {
    e.inner_buffers = {"momentum"};
    e.outer_buffers = {"momentum"};
    e.manifest_sha256 = std::string(64, 'a');
  }
  e.site_ranks = momentum ? 2 : 1;
  return e;
}

// The resume of a round the scan found intact: read again here, in the leader, and checked.
void resume(const std::string& path, const CheckpointExpectation& e) {
  Checkpoint c;
  try {
    c = read_checkpoint_file(path);
  } catch (const Error& err) {
    finding(std::string("the scan found a file intact that the resume cannot read: ") + err.what());
  }
  bool other_job = false;
  const std::string misfit = checkpoint_misfit(path, c, e, &other_job);
  if (!misfit.empty()) finding("the scan found a file intact that does not fit: " + misfit);
  const size_t count = parse_layout_text(c.model_layout, "fuzz").count();
  bool ok = c.model.size() == count && c.data.size() == e.site_ranks;
  for (const auto& b : c.inner) ok = ok && b.data.size() == count;
  for (const auto& b : c.outer) ok = ok && b.data.size() == count;
  if (!ok) finding("a checkpoint resumed whose buffers do not match its layout");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool plain = (fedtrain::fuzz::plain_children(), true);
  (void)plain;
  // The scan logs every file it skips: only with FEDTRAIN_FUZZ_VERBOSE.
  static const bool quiet = (set_log_level(std::getenv("FEDTRAIN_FUZZ_VERBOSE") ? LogLevel::kInfo : LogLevel::kError), true);
  (void)quiet;
  static fuzz::InputFile file("round-000003.h5");
  static const CheckpointStore store(std::filesystem::path(file.path()).parent_path().string());
  const std::string& path = file.hold(data, size);
  for (const bool momentum : {false, true}) {
    const CheckpointExpectation e = expect(momentum);
    const SiteScan scan = scan_checkpoints(store, e);
    if (!scan.error.empty()) finding("the scan failed: " + scan.error);
    const int counted = static_cast<int>(scan.intact.size()) + scan.damaged + scan.misfit + scan.foreign;
    if (counted != 1) finding("the scan of one file counted " + std::to_string(counted));
    if (!scan.intact.empty()) {
      if (scan.intact.front() != 3) finding("the scan found another round intact");
      resume(path, e);
    }
  }
  const ChildOutcome inspect = run_in_child([&](std::string& why) {
    try {
      (void)list_checkpoint_file(path);
      return kExitOk;
    } catch (const Error& e) {
      why = e.what();
      return kExitRuntime;
    }
  });
  if (!inspect.crashed(kExitRuntime) && inspect.exit_code != kExitOk)
    fuzz::rejected("fuzz_checkpoint", Error(inspect.message));
  return 0;
}
