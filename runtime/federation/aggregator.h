// How the site leaders turn their pseudo-gradients into one weighted average.
//
// Two implementations, chosen by federation.secure:
//   secure (default): statuses, the masked fixed-point updates and every
//     other message travel sealed between leaders (secure_aggregator.cc);
//     no leader, and nobody on the network, sees a site's update.
//   plaintext: statuses and a ring all-reduce over the leader Transport
//     (plain_aggregator.cc); every leader and the network see each site's
//     update. For comparison and benchmarks.
// Both run the same participation rules (participation.h) and return the same
// average up to the quantisation step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/crypto/sha256.h"
#include "runtime/federation/participation.h"

namespace fedtrain {

struct RoundId {
  int64_t round = 0;    // 1-based
  int64_t attempt = 0;  // 0, then 1, 2, ... when a failed exchange is retried
};

// What one leader saw of an exchange attempt. Leaders can see different
// things (a tampered message reaches one of them), so the outcome only counts
// once agree() found every leader with the same one.
enum class Outcome : uint8_t { kApplied = 1, kAbandoned = 2, kFailed = 3 };

// A site whose update the average holds, with the sample count it reported.
struct Participant {
  int site = 0;  // leader index (site order)
  double samples = 0.0;
};

struct AggregateResult {
  Outcome outcome = Outcome::kFailed;  // kApplied: `update` holds the weighted average
  int participants = 0;
  std::vector<Participant> taking_part;  // kApplied: the participants, in site order
  std::vector<std::string> sitting_out;  // "site 'de' sits the round out: its update has non-finite values"
  std::string failure;                   // kFailed: what went wrong on this leader
  std::string abandoned_because;         // kAbandoned: why, when not the quorum (federation.min_sites)
};

struct Agreement {
  bool agreed = false;  // every leader reported the same outcome (and, if applied, the same new model)
  std::string failure;  // otherwise: which leader differed, or which message did not open
  // What each leader attached to its outcome (its own included), by leader
  // index; empty when the exchange failed. The ledger's signatures travel here.
  std::vector<std::vector<uint8_t>> attachments;
};

class Aggregator {
 public:
  virtual ~Aggregator() = default;
  virtual const char* name() const = 0;
  // Collective over the leaders. On entry `update` is this site's
  // pseudo-gradient and `status` describes it; if the outcome is kApplied,
  // `update` is sum_s(n_s * update_s) / sum_s(n_s) over the participants;
  // otherwise its contents are unspecified (the caller recomputes it to retry).
  // Throws Error when the leaders started the round from different models.
  virtual AggregateResult average(std::span<float> update, const UpdateStatus& status, const RoundId& id) = 0;
  // Collective over the leaders, called after every average() whatever its
  // outcome: every leader's outcome and the digest of its (new) global model,
  // and `attachment`, carried to every leader as is (the ledger's record
  // digest and signature; it must have the same size on every leader, and
  // takes no part in the verdict).
  virtual Agreement agree(Outcome outcome, const Sha256Digest& digest, const RoundId& id,
                          std::span<const uint8_t> attachment = {}) = 0;
  // Element-wise sum over the leaders, added in site order (round totals for the report).
  virtual void sum(std::span<double> values, const RoundId& id) = 0;
  // Bytes this leader has sent to other sites so far.
  virtual uint64_t sent_bytes() const = 0;
  // Bytes this leader will send for sum() of `count` values (the report
  // counts a round's totals exchange in that same round).
  virtual uint64_t sum_bytes(size_t count) const = 0;
};

// Plaintext weighted average over the leader transport `leaders` (which must
// outlive the result); sites[i] names the site of leader i. `losses`, where
// given, counts the leaders lost so far (MemberTransport::losses): a change
// within a call fails the attempt.
std::unique_ptr<Aggregator> make_plain_aggregator(Transport& leaders, std::vector<std::string> sites, int min_sites,
                                                  double max_update_norm, std::function<uint64_t()> losses = {});

}  // namespace fedtrain
