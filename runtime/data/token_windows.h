// The training batches of one rank of a text site: random windows of T+1 bytes from its part of the site's text.
//
// A site's N training bytes are split across its S ranks in contiguous parts,
// rank r holding bytes [r*N/S, (r+1)*N/S), so ranks draw from disjoint text.
// Window i of a rank starts at a uniform offset in [0, part - T - 1] drawn from
// a counter-based generator, mix(seed, i): the place in the data is just the
// number of windows drawn, which is all a checkpoint needs (Position.cursor).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/data/batch_source.h"

namespace fedtrain {

class TokenWindowSource final : public BatchSource {
 public:
  // `site_tokens` is the site's whole training text; this rank keeps its part.
  // Throws Error when the part is shorter than one window.
  TokenWindowSource(const std::vector<uint8_t>& site_tokens, int context, int part, int parts, uint64_t seed,
                    const std::string& what);

  size_t bytes() const { return part_.size(); }
  // tokens (B, T+1).
  Batch next(int B) override;
  Position position() const override { return {0, drawn_}; }
  void seek(Position p) override;

 private:
  std::vector<uint8_t> part_;
  int context_;
  uint64_t seed_;
  uint64_t drawn_ = 0;
  std::vector<uint8_t> batch_;
};

}  // namespace fedtrain
