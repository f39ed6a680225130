// A site's checkpoint directory: round-NNNNNN.h5 files, each written atomically, the newest few kept.
//
// Writing round N (site leader only):
//   1. DIR/round-N.h5.tmp is written and fsynced (write_checkpoint_file)
//   2. renamed to DIR/round-N.h5, and DIR is fsynced: the file is there whole or not at all
//   3. only once every site holds round N durably (the caller agrees over the
//      leaders) are old files removed: prune(N, keep_last)
// A crash at any point leaves at most a *.tmp file, which no reader opens and
// remove_temporaries() deletes on the next start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/checkpoint/checkpoint_file.h"

namespace fedtrain {

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string dir);

  const std::string& dir() const { return dir_; }
  // DIR/round-000120.h5
  std::string path_of(int64_t round) const;
  // Creates the directory (and its parents) if needed; throws Error if it cannot.
  void prepare() const;

  // Steps 1 and 2 above; returns the final path. Throws Error (the temporary is removed).
  std::string write(const Checkpoint& ckpt, const WriteProgress& progress = {}) const;

  // Rounds of the files named round-NNNNNN.h5, newest first (by name; nothing is opened).
  std::vector<int64_t> rounds() const;
  // Deletes leftover round-NNNNNN.h5.tmp files of crashed writes; returns their paths.
  std::vector<std::string> remove_temporaries() const;
  // Deletes the round files newer than `current` (left by a run that went further
  // than the round every site could resume from) and all but the newest `keep`
  // of the others; returns the paths removed.
  std::vector<std::string> prune(int64_t current, int keep) const;

 private:
  std::string dir_;
};

// The round of a file name "round-000120.h5" (with suffix ".tmp" when `temporary`); -1 if it is not one.
int64_t checkpoint_round_of(const std::string& file_name, bool temporary = false);

}  // namespace fedtrain
