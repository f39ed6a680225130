// One checkpoint file: a site's state after a round in plain HDF5, with a SHA-256 for every part.
//
// round-000120.h5 (h5dump, h5ls and h5py read it; docs/checkpoint-format.md):
//   /model/<tensor>                      float32, theta_global after the round (ParamLayout names and shapes)
//   /optimizer/inner/<buffer>/<tensor>   float32, this site's inner optimizer state ("momentum", "exp_avg", ...)
//   /optimizer/inner/steps               int64 [1], inner optimizer steps taken
//   /optimizer/outer/<buffer>/<tensor>   float32, outer optimizer state (identical on every leader)
//   /data/<site rank>                    int64 [2], (epoch, cursor) of that rank's data loader
//   every dataset: attribute sha256, hex SHA-256 of its bytes as stored (little-endian)
//   root attributes: format ("fedtrain-checkpoint"), format_version, job_id, round, attempt, config,
//     manifest_sha256, site, sites, model_layout, attributes_sha256 (one line "name sha256" per other root
//     attribute) and header_sha256 (over attributes_sha256 and every dataset's path and sha256).
//
// Reading checks everything before anything is used: the format, every
// attribute against its recorded hash, every dataset against its hash, the
// header hash (datasets added, removed or renamed), then the structure against
// model_layout. Any failure is an Error naming the file and the dataset or
// attribute at fault; a checkpoint is never half-loaded.
//
// The hashes find accidents, not attacks: they are unkeyed, and whoever can
// write a file can make them agree. So the reader trusts no size in a file:
// model_layout is parsed with overflow-checked arithmetic and holds at most
// kMaxLayoutCount elements (param_layout.h); no buffer is allocated beyond the
// file's own size; every slice written is bounds-checked; every attribute
// holds one value, a string at most kMaxStringAttributeBytes (hdf5_file.h);
// the round is 1..kMaxCheckpointRound. Even running out of memory is an Error
// about the file, never the end of the process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/model/param_layout.h"

namespace fedtrain {

inline constexpr int64_t kCheckpointFormatVersion = 1;
inline constexpr const char* kCheckpointFormat = "fedtrain-checkpoint";
// Rounds are 1..kMaxCheckpointRound and attempts 0..kMaxCheckpointRound (both fit an int, as in Config).
inline constexpr int64_t kMaxCheckpointRound = 2147483647;

// A flat float buffer with the model's layout, under a name ("momentum", "exp_avg").
struct NamedBuffer {
  std::string name;
  std::vector<float> data;
};

// A rank's place in its data: the epoch, and the cursor in that epoch's order.
struct LoaderPosition {
  uint64_t epoch = 0;
  uint64_t cursor = 0;
};

// What one site's checkpoint of one round holds, in host memory.
struct Checkpoint {
  std::string job_id;
  int64_t round = 0;
  int64_t attempt = 0;               // RoundId.attempt of the round (a retried round gets a new one)
  std::string config_text;           // Config::resolved_text of the run that wrote it
  std::string manifest_sha256;       // federation manifest (secure mode); "" without one
  std::string site;                  // the site that wrote it
  std::vector<std::string> sites;    // every site of the federation, in config order
  std::string model_layout;          // layout_text() of the model
  std::vector<float> model;          // theta_global, flat, in layout order
  std::vector<NamedBuffer> inner;    // this site's inner optimizer buffers
  int64_t inner_steps = 0;
  std::vector<NamedBuffer> outer;    // outer optimizer buffers (none for plain FedAvg)
  std::vector<LoaderPosition> data;  // by site rank
};

// "layers.0.weight:256x784,layers.0.bias:256,...": names and shapes, in order.
std::string layout_text(const ParamLayout& layout);
// The inverse; throws Error (naming `where`) on malformed text.
ParamLayout parse_layout_text(const std::string& text, const std::string& where);

// Called after each dataset is written: (datasets written, total). Used by
// crash tests to stop a write half-way.
using WriteProgress = std::function<void(size_t written, size_t total)>;

// Writes `ckpt` to `path` and makes it durable (fsync). An existing file is
// replaced; the new one is created with mode 0600 (whatever the umask) before
// a byte is written: it holds the site's own optimizer state.
// The hashes are computed on up to 4 other threads while the data are written
// and flushed (writeback starts after each dataset), so hashing costs little
// wall time. Throws Error.
void write_checkpoint_file(const std::string& path, const Checkpoint& ckpt, const WriteProgress& progress = {});

// Reads and checks the whole file (see above). Throws Error naming the file
// and the dataset or attribute that failed.
Checkpoint read_checkpoint_file(const std::string& path);

// What `fedtrain ckpt inspect` shows: attributes and datasets as stored,
// without checking hashes (read_checkpoint_file checks).
struct CheckpointListing {
  struct Dataset {
    std::string path, type;
    std::vector<size_t> shape;
    std::string sha256;  // as recorded in the file
    int64_t offset_bytes = -1;  // of the data in the file (contiguous), -1 if none
  };
  std::vector<std::pair<std::string, std::string>> attributes;  // root attributes, name and value as text
  std::vector<Dataset> datasets;
};
CheckpointListing list_checkpoint_file(const std::string& path);

}  // namespace fedtrain
