// The training batches of one rank.
#include "runtime/data/shard_loader.h"

#include <cstring>
#include <random>

#include "runtime/core/error.h"
#include "runtime/data/shuffle.h"

namespace fedtrain {

ShardLoader::ShardLoader(const std::string& path, const DatasetInfo& info, int part, int parts, uint64_t seed)
    : seed_(seed) {
  const size_t begin = info.rows * part / parts, end = info.rows * (part + 1) / parts;
  if (end == begin)
    throw Error("HDF5 file '" + path + "' has " + std::to_string(info.rows) + " rows, too few for " +
                std::to_string(parts) + " ranks: give the site fewer ranks or more data");
  data_ = read_dataset_rows(path, begin, end - begin, info.classes);
  order_.resize(data_.rows);
  shuffle_epoch();
}

void ShardLoader::shuffle_epoch() {
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  std::mt19937_64 gen(mix_seed(seed_, epoch_));
  shuffle(order_, gen);
}

void ShardLoader::next_batch(int B, float* x, int32_t* y) {
  const size_t D = data_.features;
  for (int b = 0; b < B; ++b) {
    if (cursor_ == order_.size()) {
      ++epoch_;
      cursor_ = 0;
      shuffle_epoch();
    }
    const uint32_t row = order_[cursor_++];
    std::memcpy(x + static_cast<size_t>(b) * D, data_.x.data() + static_cast<size_t>(row) * D, D * sizeof(float));
    y[b] = data_.y[row];
  }
}

Batch ShardLoader::next(int B) {
  batch_x_.resize(static_cast<size_t>(B) * data_.features);
  batch_y_.resize(static_cast<size_t>(B));
  next_batch(B, batch_x_.data(), batch_y_.data());
  return Batch{B, batch_x_.data(), batch_y_.data()};
}

void ShardLoader::seek(Position p) {
  if (p.cursor > order_.size()) throw Error("loader position " + std::to_string(p.cursor) + " is past the end of the shard");
  epoch_ = p.epoch;
  cursor_ = p.cursor;
  shuffle_epoch();
}

}  // namespace fedtrain
