// The data files one rank of a site reads at start-up, one reader per file, each through the
// child-process guard (runtime/io/guarded_read.h): a file that crashes libhdf5, or that the
// reader rejects in the child, is an Error naming it, and this process never opens it.
//
//   image shard  /features, /labels: the shape, then this rank's rows  (ShardLoader)
//   test file    the same, into this rank's part of the evaluation set (first site only)
//   text         /tokens and its provenance, hash checked               (read_token_shard)
// `what` names the file in errors ("site es's training data 'data/train-es.h5'"); this rank reads
// part `part` of `parts`. None uses MPI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/core/config.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/shard_loader.h"
#include "runtime/data/token_shard.h"
#include "runtime/site/eval_set.h"

namespace fedtrain {

struct ImageShard {
  DatasetInfo info;
  std::unique_ptr<ShardLoader> loader;
};
ImageShard read_image_shard(const std::string& what, const std::string& path, int part, int parts, uint64_t seed);

struct ImageTest {
  DatasetInfo info;
  std::unique_ptr<EvalSet> eval;
};
ImageTest read_image_test(const std::string& what, const std::string& path, int part, int parts);

// A file from 'fedtrain data text'; a ConfigError (exit 2) for an image dataset.
TokenShard read_text_shard(const std::string& what, const std::string& path);

// One file checked whole in a child only, as a run of one rank per site reads it (every dataset,
// its shape and type, every row and label, or the text and its hash): for `fedtrain config`.
// Throws Error, or ConfigError for data of the wrong kind for `kind`.
void check_data_file(const std::string& what, const std::string& path, ModelKind kind);

}  // namespace fedtrain
