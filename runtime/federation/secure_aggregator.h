// Secure aggregation among the site leaders: masked fixed-point updates summed by an encrypted ring.
//
// One round attempt, on every leader, in lock-step (docs/security.md has the full protocol):
//   1. keys     per-round keys from the key schedule (job, session, round, attempt)
//   2. status   sealed all-to-all: ready, sample count, update norm, all finite,
//               hash of the global model; participation decided identically everywhere
//   3. encode   quantise (clip, weight n_s/N, stochastic rounding to Z_2^32), add
//               the pairwise masks (lower site index adds, higher subtracts);
//               a site that sits out contributes zeros, still masked; a leader
//               whose status exchange failed adds fresh uncancelled noise, so
//               no failed attempt leaves a decodable partial sum
//   4. ring     encrypted ring all-reduce (reduce-scatter + all-gather, sealed chunks)
//   5. decode   the ring sum, read as signed fixed point, is the weighted average
// then, from the round driver, after the outer step:
//   6. outcome  sealed all-to-all (agree()): each leader's outcome (applied,
//               abandoned, failed: a message did not open) and the hash of its
//               new global model (with the ledger: the record's digest and
//               the leader's signature of it, ledger_record.h); anything but
//               the same outcome and hash everywhere fails the attempt on
//               every leader, which undo it
// Masks cancel in the sum, so a leader only ever sees masked vectors and the aggregate.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/crypto/key_schedule.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/crypto_workers.h"
#include "runtime/federation/egress_log.h"
#include "runtime/federation/fixed_point.h"
#include "runtime/federation/participation.h"
#include "runtime/federation/secure_link.h"

namespace fedtrain {

struct SecureOptions {
  FixedPoint fixed_point;
  size_t chunk_bytes = size_t{1} << 20;
  int min_sites = 2;
  bool allow_two_participants = false;  // else a round of exactly 2 participants is abandoned
  double max_update_norm = 0.0;
  uint64_t seed = 1;  // of the stochastic rounding (not secret: reproducible runs)
  Sha256Digest settings{};  // agreed at start (settings_agreement.h); mixed into the session id
  int crypto_threads = 0;   // worker threads for the ring's CPU work (crypto_workers.h); 0: all on the calling thread
  int64_t session_round = 0;  // the round the session starts before, for the egress log (0: at start-up)
};

// Where the time of the secure exchange goes (seconds, summed over rounds;
// with crypto threads, summed over the threads that did the work).
struct SecureStats {
  double quantize_seconds = 0.0;
  double mask_seconds = 0.0;
  double dequantize_seconds = 0.0;
  LinkStats link;  // seal, open, transfer, egress log
};

class SecureAggregator final : public Aggregator {
 public:
  // Collective over the leaders: agrees on a fresh session id (every leader
  // contributes 32 random bytes). `transport`, `log` and `schedule` must
  // outlive the aggregator; `log` may be null (benchmarks).
  SecureAggregator(Transport& transport, EgressLog* log, KeySchedule& schedule, std::vector<std::string> sites,
                   const std::string& job_id, const SecureOptions& options);

  const char* name() const override { return "secure (masked, AES-256-GCM ring)"; }
  AggregateResult average(std::span<float> update, const UpdateStatus& status, const RoundId& id) override;
  Agreement agree(Outcome outcome, const Sha256Digest& digest, const RoundId& id,
                  std::span<const uint8_t> attachment = {}) override;
  void sum(std::span<double> values, const RoundId& id) override;
  uint64_t sent_bytes() const override { return session_bytes_ + link_.stats().wire_bytes; }
  uint64_t sum_bytes(size_t count) const override {
    return static_cast<uint64_t>(transport_.size() - 1) * wire_bytes(count * sizeof(double));
  }

  SecureStats stats() const;
  int crypto_threads() const { return workers_.threads(); }

 private:
  RoundKeys& keys_for(const RoundId& id, Phase phase);
  std::string exchange(Phase phase, const RoundId& id, std::span<const uint8_t> mine,
                       std::vector<std::vector<uint8_t>>& theirs);
  // average()'s steps.
  std::string exchange_statuses(const UpdateStatus& status, const RoundId& id, std::vector<UpdateStatus>& statuses);
  Participation participation(const std::vector<UpdateStatus>& statuses, const std::string& failure,
                              AggregateResult& r) const;
  std::string masked_ring_sum(std::span<float> update, const RoundId& id, bool contribute, double weight, bool blind);

  Transport& transport_;
  KeySchedule& schedule_;
  std::vector<std::string> sites_;
  SecureOptions options_;
  SecureLink link_;
  CryptoWorkers workers_;
  SecureStats stats_;
  std::mutex stats_mu_;  // prepare and the final sink add to stats_ from crypto threads
  uint64_t session_bytes_ = 0;
  std::unique_ptr<RoundKeys> keys_;
  // (attempt, phase) pairs of the current round that sealed already: a second
  // use would repeat nonces under one key, so it is a broken invariant.
  int64_t used_round_ = -1;
  std::set<std::pair<int64_t, int>> used_;
  std::vector<uint32_t> ring_;
};

}  // namespace fedtrain
