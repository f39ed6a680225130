// Where a rank's training batches come from: the interface site trainers and the checkpointer see.
//
// A source hands out Batch views (runtime/model/model.h) into buffers it owns,
// and its place in the data is a Position that a checkpoint saves and a
// resumed run seeks to, so that the resumed run sees exactly the batches the
// uninterrupted one would have. Implementations: ShardLoader (images and labels).
#pragma once

#include <cstdint>

#include "runtime/model/model.h"

namespace fedtrain {

class BatchSource {
 public:
  virtual ~BatchSource() = default;

  // The next B samples; valid until the next call.
  virtual Batch next(int B) = 0;

  struct Position {
    uint64_t epoch = 0;
    uint64_t cursor = 0;
  };
  virtual Position position() const = 0;
  // Throws Error if `p` does not fit this source's data.
  virtual void seek(Position p) = 0;
};

}  // namespace fedtrain
