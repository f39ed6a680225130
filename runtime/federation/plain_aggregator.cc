// Plaintext weighted average of the pseudo-gradients: two all-reduces over leaders_comm.
//
//   1. W = sum of the weights (one double).
//   2. Each leader scales its update by weight / W; a float all-reduce sums them.
// MPI_Allreduce gives every leader the same sum, so every leader applies the
// same outer step (the round driver checks that with a hash).
#include "kernels/cpu/kernels.h"
#include "runtime/core/error.h"
#include "runtime/federation/aggregator.h"

namespace fedtrain {
namespace {

class PlainAggregator final : public Aggregator {
 public:
  explicit PlainAggregator(Collectives& leaders) : leaders_(leaders) {}
  const char* name() const override { return "plaintext"; }

  AggregateResult average(std::span<float> update, double weight, const RoundId&) override {
    double total = weight;
    leaders_.allreduce_sum(std::span<double>(&total, 1));
    if (!(total > 0.0)) throw Error("federation: the site weights sum to " + std::to_string(total) + ", not > 0");
    kernels::cpu::scale(update.data(), update.size(), static_cast<float>(weight / total));
    leaders_.allreduce_sum(update);
    return AggregateResult{leaders_.size()};
  }

 private:
  Collectives& leaders_;
};

}  // namespace

std::unique_ptr<Aggregator> make_plain_aggregator(Collectives& leaders) {
  return std::make_unique<PlainAggregator>(leaders);
}

}  // namespace fedtrain
