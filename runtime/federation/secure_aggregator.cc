// Secure aggregation among the site leaders.
#include "runtime/federation/secure_aggregator.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/openssl_check.h"
#include "runtime/data/shuffle.h"
#include "runtime/federation/encrypted_ring.h"
#include "runtime/federation/round_keys.h"

namespace fedtrain {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ring += uniform random words from OpenSSL's CSPRNG: the ring sum of every
// leader becomes uniform in Z_2^32, independent of every site's update.
void add_fresh_noise(std::span<uint32_t> ring) {
  constexpr size_t kBlock = 4096;
  std::vector<uint32_t> noise(kBlock);
  for (size_t b = 0; b < ring.size(); b += kBlock) {
    const size_t n = std::min(kBlock, ring.size() - b);
    OSSL_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(noise.data()), static_cast<int>(n * sizeof(uint32_t))));
    for (size_t i = 0; i < n; ++i) ring[b + i] += noise[i];
  }
}

}  // namespace

SecureAggregator::SecureAggregator(Transport& transport, EgressLog* log, KeySchedule& schedule,
                                   std::vector<std::string> sites, const std::string& job_id,
                                   const SecureOptions& options)
    : transport_(transport),
      schedule_(schedule),
      sites_(sites),
      options_(options),
      link_(transport, log, sites, job_tag(job_id)),
      workers_(options.crypto_threads) {
  // Session id: every leader's 32 random bytes, hashed in site order. Sent in
  // clear: it is a public salt of the key schedule; tampering with it only
  // makes keys disagree, which the first sealed message detects.
  const int n = transport.size(), me = transport.rank();
  std::vector<uint8_t> all(32 * static_cast<size_t>(n));
  OSSL_CHECK(RAND_bytes(all.data() + 32 * me, 32));
  std::vector<Transport::Handle> handles;
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    handles.push_back(transport.irecv(p, static_cast<int>(Phase::kSession), {all.data() + 32 * p, 32}));
  }
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    std::span<const uint8_t> mine(all.data() + 32 * me, 32);
    if (log != nullptr) log->record(options.session_round, 0, phase_name(Phase::kSession), sites_[p], mine);
    handles.push_back(transport.isend(p, static_cast<int>(Phase::kSession), mine));
    session_bytes_ += 32;
  }
  for (auto h : handles) {
    if (transport.wait(h) == Transport::kTooLong) throw Error("secure aggregation: a session contribution is too long");
  }
  // The agreed settings digest too: leaders whose settings differ (however the
  // clear agreement was fooled) derive different keys, and nothing opens.
  all.insert(all.end(), options.settings.begin(), options.settings.end());
  schedule_.set_session(sha256(all.data(), all.size()));
}

SecureStats SecureAggregator::stats() const {
  SecureStats s = stats_;  // read on the ring's thread between rounds: no crypto thread is at work
  s.link = link_.stats();
  return s;
}

RoundKeys& SecureAggregator::keys_for(const RoundId& id, Phase phase) {
  if (!keys_ || keys_->round() != static_cast<uint64_t>(id.round) || keys_->attempt() != static_cast<uint64_t>(id.attempt))
    keys_ = std::make_unique<RoundKeys>(schedule_, transport_.size(), id.round, id.attempt, workers_.lanes());
  if (used_round_ != id.round) {
    used_round_ = id.round;
    used_.clear();
  }
  FT_CHECK(used_.insert({id.attempt, static_cast<int>(phase)}).second,
           "phase " << phase_name(phase) << " sealed twice in round " << id.round << " attempt " << id.attempt
                    << " (nonce reuse)");
  link_.begin(*keys_);
  return *keys_;
}

std::string SecureAggregator::exchange(Phase phase, const RoundId& id, std::span<const uint8_t> mine,
                                       std::vector<std::vector<uint8_t>>& theirs) {
  keys_for(id, phase);
  return link_.all_to_all(phase, mine, theirs);
}

AggregateResult SecureAggregator::average(std::span<float> update, const UpdateStatus& status, const RoundId& id) {
  const int n = transport_.size(), me = transport_.rank();
  AggregateResult r;
  // 2. Status, sealed; participation decided identically on every leader.
  std::vector<UpdateStatus> statuses;
  std::string failure = exchange_statuses(status, id, statuses);
  const Participation p = participation(statuses, failure, r);
  const bool contribute = failure.empty() && !p.abandoned && p.takes_part[me];
  const double weight = contribute ? status.samples / p.total_samples : 0.0;
  // 3-5. Quantise, mask, the encrypted ring, decode.
  const std::string ring_failure = masked_ring_sum(update, id, contribute, weight, /*blind=*/!failure.empty());
  if (failure.empty()) failure = ring_failure;
  if (!failure.empty()) {
    r.failure = failure;
    return r;  // kFailed
  }
  if (p.abandoned) {
    r.outcome = Outcome::kAbandoned;
    return r;
  }
  for (int s = 0; s < n; ++s)
    if (p.takes_part[s]) r.taking_part.push_back({s, statuses[s].samples});
  r.outcome = Outcome::kApplied;
  return r;
}

// After a failed exchange nothing received is read (this leader contributes
// noise and reports the failure); the statuses stay "not ready".
std::string SecureAggregator::exchange_statuses(const UpdateStatus& status, const RoundId& id,
                                                std::vector<UpdateStatus>& statuses) {
  const int n = transport_.size();
  std::vector<uint8_t> mine(UpdateStatus::kWireBytes);
  status.encode(mine.data());
  std::vector<std::vector<uint8_t>> theirs;
  const std::string failure = exchange(Phase::kStatus, id, mine, theirs);
  statuses.assign(n, UpdateStatus{});
  if (!failure.empty()) return failure;
  for (int s = 0; s < n; ++s) statuses[s] = UpdateStatus::decode(theirs[s].data());
  for (int s = 0; s < n; ++s) {
    if (statuses[s].global != status.global)
      throw Error("round " + std::to_string(id.round) + ": site '" + sites_[s] +
                  "' started the round from a different global model than this site; the leaders have diverged "
                  "(after an exchange that failed on some leaders only?)");
  }
  return failure;
}

// Who takes part, from the statuses every leader holds alike; `r` gets the counts and who sits out.
Participation SecureAggregator::participation(const std::vector<UpdateStatus>& statuses, const std::string& failure,
                                              AggregateResult& r) const {
  Participation p = decide_participation(statuses, options_.min_sites, options_.max_update_norm);
  if (!p.abandoned && p.participants == 2 && !options_.allow_two_participants) {
    // Each of the two would learn the other's update: the aggregate minus its own.
    p.abandoned = true;
    r.abandoned_because = "only 2 sites take part, and each would learn the other's update (the aggregate minus its "
                          "own); federation.allow_two_participants = true allows such rounds";
  }
  r.participants = p.participants;
  for (size_t s = 0; s < statuses.size() && failure.empty(); ++s)
    if (!p.takes_part[s]) r.sitting_out.push_back("site '" + sites_[s] + "' sits the round out: " + p.reasons[s]);
  return p;
}

// 3. Quantise and mask; 4. the encrypted ring; 5. each piece of the sum
// decoded into `update` as soon as it is final, while in cache (used only if
// the whole attempt succeeds). Masks are added whatever the participation, so
// the protocol has the same shape on every leader. Returns the ring's failure.
std::string SecureAggregator::masked_ring_sum(std::span<float> update, const RoundId& id, bool contribute,
                                              double weight, bool blind) {
  const int me = transport_.rank();
  RoundKeys& keys = keys_for(id, Phase::kReduceScatter);
  keys_for(id, Phase::kAllGather);
  // A set of mask streams per lane: crypto threads encode chunks at the same time.
  std::vector<MaskStreams> masks(workers_.lanes());
  for (MaskStreams& m : masks) m = keys.mask_streams();
  ring_.resize(update.size());
  std::vector<float> zeros;
  std::span<const float> source = update;
  if (!contribute) {
    zeros.assign(update.size(), 0.0f);
    source = zeros;
  }
  // Not keyed by the attempt: a retried exchange rounds exactly as the failed one
  // would have, so a failed attempt leaves no trace in the model. That is safe
  // because of the blinding below: an attempt's sum decodes only if every
  // leader's status exchange succeeded, and then every leader saw the same
  // statuses, so the participants and every q_s are those of any other
  // decodable attempt of the round, and two such sums are equal.
  const uint64_t seed = mix_seed(mix_seed(options_.seed, id.round), me);
  // Each chunk is encoded just before the ring first sends or sums it, so that
  // quantising and masking overlap the transfer.
  // A leader whose status exchange failed (`blind`) cannot know whom the
  // others count (they may count its samples while it contributes nothing):
  // it adds fresh uniform noise that no mask cancels, so that nobody can decode this attempt.
  auto prepare = [&](size_t first, size_t count, int lane) {
    std::span<uint32_t> out(ring_.data() + first, count);
    double quantize = 0.0, mask = 0.0;
    encode_masked(out, source.subspan(first, count), first, options_.fixed_point, weight, seed, me, masks[lane].peers,
                  masks[lane].streams, &quantize, &mask);
    if (blind) add_fresh_noise(out);  // OpenSSL's RAND_bytes is thread-safe
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.quantize_seconds += quantize;
    stats_.mask_seconds += mask;
  };
  const double step = options_.fixed_point.step();
  return ring_allreduce(link_, ring_, options_.chunk_bytes, prepare, [&](size_t first, const uint32_t* values, size_t count) {
    const auto t = Clock::now();
    kernels::cpu::dequantize(update.data() + first, values, count, step);
    const double seconds = since(t);
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.dequantize_seconds += seconds;
  }, &workers_);
}

Agreement SecureAggregator::agree(Outcome outcome, const Sha256Digest& digest, const RoundId& id,
                                  std::span<const uint8_t> attachment) {
  constexpr size_t kVerdict = 1 + sizeof(Sha256Digest);  // outcome, digest: what must match
  std::vector<uint8_t> mine(kVerdict + attachment.size());
  mine[0] = static_cast<uint8_t>(outcome);
  std::memcpy(mine.data() + 1, digest.data(), digest.size());
  if (!attachment.empty()) std::memcpy(mine.data() + kVerdict, attachment.data(), attachment.size());
  std::vector<std::vector<uint8_t>> theirs;
  Agreement a;
  a.failure = exchange(Phase::kOutcome, id, mine, theirs);
  if (!a.failure.empty()) return a;
  for (const auto& t : theirs) a.attachments.emplace_back(t.begin() + kVerdict, t.end());
  for (size_t s = 0; s < theirs.size(); ++s) {
    if (!std::equal(mine.begin(), mine.begin() + kVerdict, theirs[s].begin())) {
      const auto theirs_outcome = static_cast<Outcome>(theirs[s][0]);
      a.failure = "round " + std::to_string(id.round) + " attempt " + std::to_string(id.attempt) + ": site '" +
                  sites_[s] + "' " +
                  (theirs_outcome == Outcome::kFailed ? "reported a message that did not open (see its log)"
                   : theirs_outcome != outcome        ? "ended the exchange with another outcome"
                                                      : "holds a different new global model");
      return a;
    }
  }
  a.agreed = true;
  return a;
}

void SecureAggregator::sum(std::span<double> values, const RoundId& id) {
  std::vector<uint8_t> mine(values.size_bytes());
  std::memcpy(mine.data(), values.data(), mine.size());
  std::vector<std::vector<uint8_t>> theirs;
  const std::string failure = exchange(Phase::kTotals, id, mine, theirs);
  if (!failure.empty()) throw Error("round totals: " + failure);
  std::fill(values.begin(), values.end(), 0.0);
  for (const auto& t : theirs) {
    for (size_t i = 0; i < values.size(); ++i) {
      double v;
      std::memcpy(&v, t.data() + i * sizeof(double), sizeof v);
      values[i] += v;
    }
  }
}

}  // namespace fedtrain
