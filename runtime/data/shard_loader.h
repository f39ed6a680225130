// The training batches of one rank: its part of its site's shard, shuffled every epoch.
//
// A site's shard of N rows is split across the S ranks of the site in
// contiguous parts, rank r holding rows [r*N/S, (r+1)*N/S); only that part is
// read from disk. Each epoch visits the part in a new order drawn from
// (seed, site, rank, epoch), so a run is reproducible and a position
// (epoch, cursor) is all a checkpoint needs to resume it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/data/batch_source.h"
#include "runtime/data/dataset_file.h"

namespace fedtrain {

class ShardLoader final : public BatchSource {
 public:
  ShardLoader(const std::string& path, const DatasetInfo& info, int part, int parts, uint64_t seed);

  size_t rows() const { return data_.rows; }
  size_t features() const { return data_.features; }

  // x (B, features), y (B). Batches run on across epoch ends.
  void next_batch(int B, float* x, int32_t* y);
  // The same, into buffers of the loader's own.
  Batch next(int B) override;

  using Position = BatchSource::Position;
  Position position() const override { return {epoch_, cursor_}; }
  void seek(Position p) override;

 private:
  void shuffle_epoch();
  Dataset data_;
  uint64_t seed_;
  std::vector<uint32_t> order_;
  uint64_t epoch_ = 0, cursor_ = 0;
  std::vector<float> batch_x_;
  std::vector<int32_t> batch_y_;
};

}  // namespace fedtrain
