// The held-out data one rank of a site evaluates the global model on, as a sequence of batches.
//
//   images  this rank's contiguous part of the test file's rows, 1000 per batch
//   text    consecutive non-overlapping windows of the site's validation text:
//           window w is bytes [w*T, w*T + T] (T+1 bytes: T predictions), so
//           windows start at byte 0 and step by T; the last partial window is
//           dropped. This rank takes a contiguous share of the windows.
// Every byte but the first of each window is predicted exactly once, so the
// mean loss over all windows, over ln 2, is the text's bits per byte.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/data/dataset_file.h"
#include "runtime/model/model.h"

namespace fedtrain {

class EvalSet {
 public:
  virtual ~EvalSet() = default;
  virtual size_t batches() const = 0;
  // Valid until the next call.
  virtual Batch batch(size_t i) = 0;
};

std::unique_ptr<EvalSet> make_image_eval_set(const std::string& test_file, const DatasetInfo& info, int part,
                                             int parts);

// Throws ConfigError (naming `what`) when the text is shorter than one window.
std::unique_ptr<EvalSet> make_text_eval_set(const std::vector<uint8_t>& val, int context, int part, int parts,
                                            int windows_per_batch, const std::string& what);

}  // namespace fedtrain
