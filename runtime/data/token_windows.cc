// The training batches of one rank of a text site.
#include "runtime/data/token_windows.h"

#include <cstring>
#include <string>

#include "runtime/core/error.h"
#include "runtime/data/shuffle.h"

namespace fedtrain {

TokenWindowSource::TokenWindowSource(const std::vector<uint8_t>& site_tokens, int context, int part, int parts,
                                     uint64_t seed, const std::string& what)
    : context_(context), seed_(seed) {
  const size_t n = site_tokens.size(), begin = n * part / parts, end = n * (part + 1) / parts;
  if (end - begin < static_cast<size_t>(context) + 1)
    throw Error(what + " holds " + std::to_string(n) + " bytes: " + std::to_string(parts) + " ranks get " +
                std::to_string(end - begin) + " each, fewer than one window of model.context + 1 = " +
                std::to_string(context + 1) + "; give the site more text, fewer ranks or a shorter context");
  part_.assign(site_tokens.begin() + static_cast<std::ptrdiff_t>(begin),
               site_tokens.begin() + static_cast<std::ptrdiff_t>(end));
}

Batch TokenWindowSource::next(int B) {
  const size_t w = static_cast<size_t>(context_) + 1;
  const uint64_t starts = part_.size() - w + 1;  // windows fit at offsets [0, starts)
  batch_.resize(static_cast<size_t>(B) * w);
  for (int b = 0; b < B; ++b) {
    // Counter-based: window i depends on (seed, i) only. Modulo bias is below
    // starts / 2^64, far under anything a loss could show.
    const uint64_t start = mix_seed(seed_, drawn_++) % starts;
    std::memcpy(batch_.data() + static_cast<size_t>(b) * w, part_.data() + start, w);
  }
  Batch batch;
  batch.size = B;
  batch.tokens = batch_.data();
  batch.context = context_;
  return batch;
}

void TokenWindowSource::seek(Position p) {
  if (p.epoch != 0) throw Error("text loader position: epoch " + std::to_string(p.epoch) + " is not 0 (not a text loader's)");
  drawn_ = p.cursor;
}

}  // namespace fedtrain
