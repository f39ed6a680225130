// Plaintext weighted average of the pseudo-gradients over the leader Transport (MPI in one world, TCP per site).
//
//   1. statuses exchanged (every leader sends its status to every other);
//      participation decided as in secure mode
//   2. each participant scales its update by n_s / sum(n), the others by 0;
//      one ring all-reduce (transport_allreduce.h) sums them, in an order of
//      additions fixed by the ring, so however the sites are launched every
//      leader ends with the same bits
// Everyone on the path sees every site's update: use it to compare against
// secure aggregation, never across organisations. sent_bytes() counts the
// bytes actually handed to the transport.
// With one job per site the transport is a MemberTransport: a leader lost
// during a call changes its loss count, and the attempt fails on every leader
// (each still sends and receives every message of it, zeros where the lost
// leader's should be, so that nobody waits for a message that never comes).
#include <cstring>
#include <functional>

#include "kernels/cpu/kernels.h"
#include "runtime/collectives/transport_allreduce.h"
#include "runtime/core/error.h"
#include "runtime/federation/aggregator.h"

namespace fedtrain {
namespace {

// Tags of the plaintext exchange, apart from the secure protocol's (Phase, 1..7),
// the leaders' group (32, 33) and the ring (kTransportAllreduceTag, + 1).
constexpr int kStatusTag = 40, kOutcomeTag = 41;

// Counts the bytes of every send.
class CountingTransport final : public TransportDecorator {
 public:
  using TransportDecorator::TransportDecorator;
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override {
    sent_ += bytes.size();
    return inner_.isend(peer, tag, bytes);
  }
  uint64_t sent() const { return sent_; }

 private:
  uint64_t sent_ = 0;
};

class PlainAggregator final : public Aggregator {
 public:
  PlainAggregator(Transport& leaders, std::vector<std::string> sites, int min_sites, double max_update_norm,
                  std::function<uint64_t()> losses)
      : leaders_(leaders),
        sites_(std::move(sites)),
        min_sites_(min_sites),
        max_update_norm_(max_update_norm),
        losses_(std::move(losses)) {}
  const char* name() const override { return "plaintext"; }

  AggregateResult average(std::span<float> update, const UpdateStatus& status, const RoundId& id) override {
    const int n = leaders_.size();
    const uint64_t lost_before = losses();
    std::vector<uint8_t> mine(UpdateStatus::kWireBytes);
    status.encode(mine.data());
    const std::vector<uint8_t> all = allgather(mine, kStatusTag);
    if (losses() != lost_before) {  // the ring still runs, on zeros, as it does on the other leaders
      std::memset(update.data(), 0, update.size_bytes());
      transport_allreduce_sum(leaders_, update);
      return lost_failure(id);
    }
    std::vector<UpdateStatus> statuses(n);
    for (int s = 0; s < n; ++s) {
      statuses[s] = UpdateStatus::decode(all.data() + s * UpdateStatus::kWireBytes);
      if (statuses[s].global != status.global)
        throw Error("round " + std::to_string(id.round) + ": site '" + sites_[s] +
                    "' started the round from a different global model than this site; the leaders have diverged");
    }
    Participation p = decide_participation(statuses, min_sites_, max_update_norm_);
    AggregateResult r;
    r.participants = p.participants;
    for (int s = 0; s < n; ++s)
      if (!p.takes_part[s]) r.sitting_out.push_back("site '" + sites_[s] + "' sits the round out: " + p.reasons[s]);
    if (p.abandoned) {
      r.outcome = Outcome::kAbandoned;
      return r;
    }
    const double w = p.takes_part[leaders_.rank()] ? status.samples / p.total_samples : 0.0;
    if (w == 0.0) std::memset(update.data(), 0, update.size_bytes());  // also clears non-finite values
    else kernels::cpu::scale(update.data(), update.size(), static_cast<float>(w));
    transport_allreduce_sum(leaders_, update);
    if (losses() != lost_before) return lost_failure(id);
    for (int s = 0; s < n; ++s)
      if (p.takes_part[s]) r.taking_part.push_back({s, statuses[s].samples});
    r.outcome = Outcome::kApplied;
    return r;
  }

  Agreement agree(Outcome outcome, const Sha256Digest& digest, const RoundId&,
                  std::span<const uint8_t> attachment) override {
    constexpr size_t kVerdict = 1 + sizeof(Sha256Digest);  // outcome, digest: what must match
    std::vector<uint8_t> mine(kVerdict + attachment.size());
    mine[0] = static_cast<uint8_t>(outcome);
    std::memcpy(mine.data() + 1, digest.data(), digest.size());
    if (!attachment.empty()) std::memcpy(mine.data() + kVerdict, attachment.data(), attachment.size());
    const uint64_t lost_before = losses();
    const std::vector<uint8_t> all = allgather(mine, kOutcomeTag);
    Agreement a;
    if (losses() != lost_before) {
      a.failure = "a site leader was lost in the outcome exchange";
      return a;
    }
    for (int s = 0; s < leaders_.size(); ++s) {
      const uint8_t* theirs = all.data() + s * mine.size();
      a.attachments.emplace_back(theirs + kVerdict, theirs + mine.size());
    }
    for (int s = 0; s < leaders_.size(); ++s) {
      if (std::memcmp(all.data() + s * mine.size(), mine.data(), kVerdict) != 0) {
        a.failure = "site '" + sites_[s] + "' ended the exchange differently (outcome or new global model)";
        return a;
      }
    }
    a.agreed = true;
    return a;
  }

  void sum(std::span<double> values, const RoundId&) override {
    const uint64_t lost_before = losses();
    transport_allreduce_sum(leaders_, values);
    if (losses() != lost_before) throw Error("round totals: a site leader was lost in the exchange");
  }
  uint64_t sent_bytes() const override { return leaders_.sent(); }
  // What this leader sends in the ring for `count` doubles: its segments (transport_allreduce.h).
  uint64_t sum_bytes(size_t count) const override {
    const int n = leaders_.size(), r = leaders_.rank();
    auto seg = [&](int k) {
      const size_t kk = static_cast<size_t>(((k % n) + n) % n);
      return count * (kk + 1) / static_cast<size_t>(n) - count * kk / static_cast<size_t>(n);
    };
    uint64_t elems = 0;
    for (int s = 0; s < n - 1; ++s) elems += seg(r - s) + seg(r + 1 - s);
    return elems * sizeof(double);
  }

 private:
  uint64_t losses() const { return losses_ ? losses_() : 0; }
  AggregateResult lost_failure(const RoundId& id) const {
    AggregateResult r;
    r.failure = "round " + std::to_string(id.round) + " attempt " + std::to_string(id.attempt) +
                ": a site leader was lost during the exchange";
    return r;  // kFailed
  }

  // Every leader's `mine` (same size everywhere), in rank order.
  std::vector<uint8_t> allgather(const std::vector<uint8_t>& mine, int tag) {
    const int n = leaders_.size(), me = leaders_.rank();
    std::vector<uint8_t> all(mine.size() * n);
    std::memcpy(all.data() + me * mine.size(), mine.data(), mine.size());
    std::vector<Transport::Handle> recvs(n, -1), sends;
    for (int p = 0; p < n; ++p)
      if (p != me) recvs[p] = leaders_.irecv(p, tag, {all.data() + p * mine.size(), mine.size()});
    for (int p = 0; p < n; ++p)
      if (p != me) sends.push_back(leaders_.isend(p, tag, mine));
    for (int p = 0; p < n; ++p) {
      if (p == me) continue;
      const size_t got = leaders_.wait(recvs[p]);
      if (got != mine.size())
        throw Error("site '" + sites_[p] + "' sent a plaintext " + (tag == kStatusTag ? "status" : "outcome") +
                    " of " + (got == Transport::kTooLong ? std::string("too many") : std::to_string(got)) + " bytes, " +
                    std::to_string(mine.size()) + " expected: it runs another protocol version");
    }
    for (auto h : sends) leaders_.wait(h);
    return all;
  }

  CountingTransport leaders_;
  std::vector<std::string> sites_;
  int min_sites_;
  double max_update_norm_;
  std::function<uint64_t()> losses_;  // MemberTransport::losses, or none
};

}  // namespace

std::unique_ptr<Aggregator> make_plain_aggregator(Transport& leaders, std::vector<std::string> sites, int min_sites,
                                                  double max_update_norm, std::function<uint64_t()> losses) {
  return std::make_unique<PlainAggregator>(leaders, std::move(sites), min_sites, max_update_norm, std::move(losses));
}

}  // namespace fedtrain
