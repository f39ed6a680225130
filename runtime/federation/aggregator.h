// How the site leaders turn their pseudo-gradients into one weighted average.
//
// The plaintext aggregator sums over leaders_comm with MPI_Allreduce: every
// leader (and anyone on the inter-site network) sees each site's update.
// The secure aggregator (masked, encrypted ring) implements the same call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "runtime/collectives/collectives.h"

namespace fedtrain {

struct RoundId {
  int64_t round = 0;    // 1-based
  int64_t attempt = 0;  // increases when a round is retried
};

struct AggregateResult {
  int participants = 0;  // sites whose update is in the average
};

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual const char* name() const = 0;
  // Collective over the leaders. On entry `update` is this site's
  // pseudo-gradient and `weight` its share (e.g. its sample count); on return
  // `update` is sum_s(weight_s * update_s) / sum_s(weight_s) over the sites that took part.
  virtual AggregateResult average(std::span<float> update, double weight, const RoundId& id) = 0;
};

// Plaintext weighted average over `leaders` (which must outlive the result).
std::unique_ptr<Aggregator> make_plain_aggregator(Collectives& leaders);

}  // namespace fedtrain
