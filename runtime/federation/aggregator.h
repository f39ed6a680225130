// How the site leaders turn their pseudo-gradients into one weighted average.
//
// Two implementations, chosen by federation.secure:
//   secure (default): statuses, the masked fixed-point updates and every
//     other message travel sealed between leaders (secure_aggregator.cc);
//     no leader, and nobody on the network, sees a site's update.
//   plaintext: MPI collectives over leaders_comm (plain_aggregator.cc); every
//     leader and the network see each site's update. For comparison and benchmarks.
// Both run the same participation rules (participation.h) and return the same
// average up to the quantisation step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/collectives/metered_collectives.h"
#include "runtime/federation/participation.h"

namespace fedtrain {

struct RoundId {
  int64_t round = 0;    // 1-based
  int64_t attempt = 0;  // 0, then 1, 2, ... when a failed exchange is retried
};

struct AggregateResult {
  bool applied = false;    // `update` now holds the weighted average
  bool abandoned = false;  // fewer than federation.min_sites took part: nothing to apply
  int participants = 0;
  std::vector<std::string> sitting_out;  // "site 'de': its update has non-finite values"
  std::string failure;     // non-empty: this attempt failed on every leader (e.g. a message did not open)
};

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual const char* name() const = 0;
  // Collective over the leaders. On entry `update` is this site's
  // pseudo-gradient and `status` describes it; if the result is applied,
  // `update` is sum_s(n_s * update_s) / sum_s(n_s) over the participants.
  // Throws Error when the leaders started the round from different models.
  virtual AggregateResult average(std::span<float> update, const UpdateStatus& status, const RoundId& id) = 0;
  // True iff every leader reports the same digest (of its new global model).
  virtual bool agree(const Sha256Digest& digest, const RoundId& id) = 0;
  // Element-wise sum over the leaders, added in site order (round totals for the report).
  virtual void sum(std::span<double> values, const RoundId& id) = 0;
  // Bytes this leader has sent to other sites so far.
  virtual uint64_t sent_bytes() const = 0;
  // Bytes this leader will send for sum() of `count` values (the report
  // counts a round's totals exchange in that same round).
  virtual uint64_t sum_bytes(size_t count) const = 0;
};

// Plaintext weighted average over `leaders` (which must outlive the result);
// sites[i] names the site of leader i.
std::unique_ptr<Aggregator> make_plain_aggregator(MeteredCollectives& leaders, std::vector<std::string> sites,
                                                  int min_sites, double max_update_norm);

}  // namespace fedtrain
