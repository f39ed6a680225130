// One federation round after another, on every rank of every site.
#include "runtime/federation/round_driver.h"

#include <chrono>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {

RoundDriver::RoundDriver(const Config& config, const Topology& topology, RoundParts parts)
    : config_(config), topo_(topology), p_(parts) {
  if (topo_.is_leader()) {
    auto params = p_.trainer->params();
    global_.assign(params.begin(), params.end());
    delta_.resize(params.size());
  }
}

RoundMetrics RoundDriver::run(int64_t first, int64_t last) {
  RoundMetrics m;
  last_ = last;
  for (int64_t r = first; r <= last && stop_signal_ == 0; ++r) m = run_round(r);
  return m;
}

RoundMetrics RoundDriver::run_round(int64_t round) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const auto t0 = Clock::now();
  RoundMetrics m;
  m.round = round;
  m.sites = topo_.n_sites();

  // 1-2. Local steps, then the site's training loss.
  const double reduce_before = p_.trainer->allreduce_seconds();
  LocalStats local = p_.trainer->train(config_.local_steps);
  m.phases.local_steps = since(t0);
  m.phases.site_allreduce = p_.trainer->allreduce_seconds() - reduce_before;
  double loss[2] = {local.loss_sum, static_cast<double>(local.samples)};
  p_.site->allreduce_sum(std::span<double>(loss, 2));

  if (topo_.is_leader()) {
    // 3-6. Pseudo-gradient, weighted average across sites, outer step, agreement.
    const auto t_agg = Clock::now();
    const uint64_t sent_before = p_.leaders->sent_bytes();
    p_.trainer->pseudo_gradient(global_, delta_);
    AggregateResult agg = p_.aggregator->average(delta_, p_.site_weight, RoundId{round, 0});
    p_.outer->step(global_, delta_);
    check_leaders_agree(round);
    p_.trainer->set_params(global_);
    m.participating = agg.participants;
    m.site_egress_bytes = p_.leaders->sent_bytes() - sent_before;
    m.phases.aggregation = since(t_agg);
  }
  // 7. The new global model to every rank of the site.
  p_.trainer->broadcast_params();

  // 8. Test loss and accuracy, on the evaluating site.
  if (p_.evaluator != nullptr) {
    const auto t_eval = Clock::now();
    EvalResult e = p_.evaluator->evaluate(*p_.model, p_.trainer->params());
    m.test_loss = e.loss;
    m.test_accuracy = e.accuracy;
    m.phases.evaluation = since(t_eval);
  }

  // 9. Round totals over the leaders: every leader learns the federation's
  // loss and egress, and the evaluating site's test results. (The bytes of
  // this exchange are counted in the next round.)
  if (topo_.is_leader()) {
    const bool evaluating = p_.evaluator != nullptr;
    double totals[5] = {loss[0], loss[1], static_cast<double>(m.site_egress_bytes), evaluating ? m.test_loss : 0.0,
                        evaluating ? m.test_accuracy : 0.0};
    p_.leaders->allreduce_sum(std::span<double>(totals, 5));
    m.train_loss = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
    m.egress_bytes = static_cast<uint64_t>(totals[2]);
    m.test_loss = totals[3];
    m.test_accuracy = totals[4];
  }

  // 10. A stop request on any rank, then the checkpoint when due.
  if (p_.checkpoints != nullptr) {
    const auto t_ckpt = Clock::now();
    stop_signal_ = p_.checkpoints->agree_stop(round);
    p_.checkpoints->after_round(RoundId{round, 0}, round == last_, stop_signal_ != 0);
    m.phases.checkpoint = since(t_ckpt);
  }
  m.seconds = since(t0);
  for (RoundObserver* o : p_.observers) o->on_round_end(m);
  return m;
}

void RoundDriver::check_leaders_agree(int64_t round) {
  const Sha256Digest mine = sha256(global_.data(), global_.size() * sizeof(float));
  std::vector<uint8_t> all(mine.size() * static_cast<size_t>(p_.leaders->size()));
  p_.leaders->allgather(mine, all);
  for (int s = 0; s < p_.leaders->size(); ++s) {
    if (std::memcmp(all.data() + s * mine.size(), mine.data(), mine.size()) != 0) {
      throw Error("round " + std::to_string(round) + ": the global model of site '" + topo_.sites()[s].name +
                  "' (sha256 " + to_hex(all.data() + s * mine.size(), mine.size()).substr(0, 16) +
                  ") differs from this site's (" + to_hex(mine).substr(0, 16) +
                  "); the leaders disagree, so the job stops rather than train diverging models");
    }
  }
}

}  // namespace fedtrain
