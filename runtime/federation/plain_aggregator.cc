// Plaintext weighted average of the pseudo-gradients: MPI collectives over leaders_comm.
//
//   1. statuses all-gathered; participation decided as in secure mode
//   2. each participant scales its update by n_s / sum(n), the others by 0;
//      one float all-reduce sums them
// Everyone on the path sees every site's update: use it to compare against
// secure aggregation, never across organisations.
#include <cstring>

#include "kernels/cpu/kernels.h"
#include "runtime/core/error.h"
#include "runtime/federation/aggregator.h"

namespace fedtrain {
namespace {

class PlainAggregator final : public Aggregator {
 public:
  PlainAggregator(MeteredCollectives& leaders, std::vector<std::string> sites, int min_sites, double max_update_norm)
      : leaders_(leaders), sites_(std::move(sites)), min_sites_(min_sites), max_update_norm_(max_update_norm) {}
  const char* name() const override { return "plaintext"; }

  AggregateResult average(std::span<float> update, const UpdateStatus& status, const RoundId& id) override {
    const int n = leaders_.size();
    std::vector<uint8_t> mine(UpdateStatus::kWireBytes), all(UpdateStatus::kWireBytes * n);
    status.encode(mine.data());
    leaders_.allgather(mine, all);
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
    leaders_.allreduce_sum(update);
    for (int s = 0; s < n; ++s)
      if (p.takes_part[s]) r.taking_part.push_back({s, statuses[s].samples});
    r.outcome = Outcome::kApplied;
    return r;
  }

  Agreement agree(Outcome outcome, const Sha256Digest& digest, const RoundId&,
                  std::span<const uint8_t> attachment) override {
    constexpr size_t kVerdict = 1 + sizeof(Sha256Digest);  // outcome, digest: what must match
    std::vector<uint8_t> mine(kVerdict + attachment.size()), all(mine.size() * leaders_.size());
    mine[0] = static_cast<uint8_t>(outcome);
    std::memcpy(mine.data() + 1, digest.data(), digest.size());
    if (!attachment.empty()) std::memcpy(mine.data() + kVerdict, attachment.data(), attachment.size());
    leaders_.allgather(mine, all);
    Agreement a;
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

  void sum(std::span<double> values, const RoundId&) override { leaders_.allreduce_sum(values); }
  uint64_t sent_bytes() const override { return leaders_.sent_bytes(); }
  uint64_t sum_bytes(size_t count) const override {
    const uint64_t n = static_cast<uint64_t>(leaders_.size());
    return 2 * (n - 1) * count * sizeof(double) / n;  // as MeteredCollectives counts an all-reduce
  }

 private:
  MeteredCollectives& leaders_;
  std::vector<std::string> sites_;
  int min_sites_;
  double max_update_norm_;
};

}  // namespace

std::unique_ptr<Aggregator> make_plain_aggregator(MeteredCollectives& leaders, std::vector<std::string> sites,
                                                  int min_sites, double max_update_norm) {
  return std::make_unique<PlainAggregator>(leaders, std::move(sites), min_sites, max_update_norm);
}

}  // namespace fedtrain
