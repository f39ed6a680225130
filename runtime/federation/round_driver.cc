// One federation round after another, on every rank of every site.
#include "runtime/federation/round_driver.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "runtime/core/check.h"
#include "kernels/cpu/kernels.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {
namespace {
// The round totals exchange: train loss sum, train samples, egress bytes, then
// per site its evaluation's loss sum, hits and scored predictions.
constexpr size_t kTotalsHead = 3, kTotalsPerSite = 3;
}  // namespace

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
    const auto t_agg = Clock::now();
    m.participating = exchange(round);
    // Everything this leader sent since the last round (the session set-up
    // before round 1 included) plus the totals exchange of step 9 below.
    m.site_egress_bytes = sent_bytes() + p_.aggregator->sum_bytes(totals_count()) - counted_bytes_;
    counted_bytes_ += m.site_egress_bytes;
    m.phases.aggregation = since(t_agg);
  }
  // 7. The new global model to every rank of the site.
  p_.trainer->broadcast_params();

  // 8. The global model on each evaluating site's held-out data (mlp: the
  // first site's test set; gpt: every site's own validation text).
  EvalResult e;
  if (p_.evaluator != nullptr) {
    const auto t_eval = Clock::now();
    e = p_.evaluator->evaluate(*p_.model, p_.trainer->params());
    m.phases.evaluation = since(t_eval);
  }

  // 9. Round totals over the leaders: every leader learns the federation's
  // loss and egress, and every site's evaluation as three scalars.
  if (topo_.is_leader()) {
    std::vector<double> totals(totals_count(), 0.0);
    totals[0] = loss[0];
    totals[1] = loss[1];
    totals[2] = static_cast<double>(m.site_egress_bytes);
    double* mine = totals.data() + kTotalsHead + kTotalsPerSite * topo_.site_index();
    const double n = static_cast<double>(e.samples);
    mine[0] = e.loss * n;
    mine[1] = e.accuracy * n;
    mine[2] = n;
    const std::vector<double> own = totals;
    const uint64_t lost_before = losses();
    try {
      p_.aggregator->sum(totals, RoundId{round, 0});
    } catch (const Error& error) {
      if (losses() == lost_before) throw;
      totals = own;  // the round stands (every leader agreed on it); only its report lacks the others
      log_warn("round " + std::to_string(round) + ": a site was lost in the round totals, this site reports its own (" +
               error.what() + ")");
    }
    FT_CHECK(sent_bytes() == counted_bytes_, "egress bytes not attributed to a round");
    m.train_loss = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
    m.egress_bytes = static_cast<uint64_t>(totals[2]);
    read_evaluations(totals, m);
  }

  // 10. A stop request on any rank, then the checkpoint when due.
  if (p_.checkpoints != nullptr) {
    const auto t_ckpt = Clock::now();
    stop_signal_ = p_.checkpoints->agree_stop(round);
    p_.checkpoints->after_round(RoundId{round, attempt_}, round == last_, stop_signal_ != 0);
    m.phases.checkpoint = since(t_ckpt);
  }
  m.seconds = since(t0);
  if (m.seconds > 0) m.samples_per_second /= m.seconds;  // leaders: the federation's trained samples, now per second
  for (RoundObserver* o : p_.observers) o->on_round_end(m);
  return m;
}

size_t RoundDriver::totals_count() const { return kTotalsHead + kTotalsPerSite * topo_.n_sites(); }

void RoundDriver::read_evaluations(const std::vector<double>& totals, RoundMetrics& m) const {
  m.samples_per_second = totals[1];  // trained samples of every site; divided by the round's seconds at its end
  const double* site = totals.data() + kTotalsHead;
  if (config_.model_kind == ModelKind::kMlp) {
    if (site[2] > 0) {
      m.test_loss = site[0] / site[2];
      m.test_accuracy = site[1] / site[2];
    }
    return;
  }
  double loss = 0.0, bytes = 0.0;
  m.site_val_bpb.assign(topo_.n_sites(), 0.0);
  for (int s = 0; s < topo_.n_sites(); ++s, site += kTotalsPerSite) {
    if (site[2] > 0) m.site_val_bpb[s] = site[0] / site[2] / std::log(2.0);
    loss += site[0];
    bytes += site[2];
  }
  m.val_bpb = bytes > 0 ? loss / bytes / std::log(2.0) : 0.0;
}

void RoundDriver::update_members(int64_t round) {
  Membership& members = *p_.members.membership;
  if (p_.members.ready && find_injection(p_.injections, "await_rejoin", topo_.site_name(), round, 0)) hold_for_rejoin(round);
  // Again after every change: a site admitted takes part from the next agreement on.
  for (;;) {
    const MembershipChange change = members.agree(p_.members.ready ? p_.members.ready(round) : std::vector<bool>{});
    if (change.empty()) return;
    const std::vector<int> present = members.members();
    for (const SiteLeft& l : change.left)
      log_warn("round " + std::to_string(round) + ": site '" + members.site(l.site) + "' left: " + l.why + "; " +
               std::to_string(present.size()) + " of " + std::to_string(topo_.n_sites()) +
               " sites go on without it (federation.min_sites = " + std::to_string(config_.exchange.min_sites) + ")");
    for (int s : change.joined) {
      log_warn("round " + std::to_string(round) + ": site '" + members.site(s) + "' rejoins: it is sent the global "
               "model after round " + std::to_string(round - 1) + " and takes part from this round; " +
               std::to_string(present.size()) + " of " + std::to_string(topo_.n_sites()) + " sites present");
      p_.members.welcome(s, round, global_, p_.outer->momentum());
    }
    retired_bytes_ += p_.aggregator->sent_bytes();
    p_.aggregator = p_.members.regroup(round);
    if (p_.ledger != nullptr) {
      std::vector<std::string> names;
      for (int s : present) names.push_back(members.site(s));
      p_.ledger->set_leaders(names);
    }
  }
}

// Test-only (--inject await_rejoin:site=NAME,round=N): holds until every absent
// site is ready to rejoin, bounded by federation.connect_timeout_s, so that a
// test restarts a site while the others still train, whatever the load.
void RoundDriver::hold_for_rejoin(int64_t round) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(config_.exchange.connect_timeout_s));
  log_warn("round " + std::to_string(round) + ": test-only hold until every absent site is ready to rejoin (--inject)");
  while (std::chrono::steady_clock::now() < until) {
    const std::vector<bool> ready = p_.members.ready(round);
    bool all = true;
    for (int s = 0; s < topo_.n_sites(); ++s)
      if (!p_.members.membership->present(s) && !ready[s]) all = false;
    if (all) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int RoundDriver::exchange(int64_t round) {
  for (int64_t attempt = 0;; ++attempt) {
    const RoundId id{round, attempt};
    attempt_ = attempt;
    if (p_.members.membership != nullptr) {
      update_members(round);
      if (p_.members.membership->members().size() < 2) {
        log_warn("round " + std::to_string(round) + " abandoned: no other site is present; the global model is "
                 "unchanged until a site comes back");
        p_.trainer->set_params(global_);
        return 0;
      }
    }
    const uint64_t lost_before = losses();
    p_.trainer->pseudo_gradient(global_, delta_);
    if (find_injection(p_.injections, "nan", topo_.site_name(), round, attempt)) delta_[0] = NAN;
    UpdateStatus status;
    status.samples = p_.site_weight;
    status.norm = std::sqrt(kernels::cpu::sum_squares(delta_.data(), delta_.size(), &status.finite));
    status.global = sha256(global_.data(), global_.size() * sizeof(float));

    AggregateResult r = p_.aggregator->average(delta_, status, id);
    for (const auto& why : r.sitting_out) log_warn("round " + std::to_string(round) + ": " + why);
    if (r.outcome == Outcome::kApplied) {
      // Tentatively: kept to be undone unless every leader agrees.
      global_backup_ = global_;
      momentum_backup_ = p_.outer->momentum();
      p_.outer->step(global_, delta_);
    }
    const Sha256Digest model = sha256(global_.data(), global_.size() * sizeof(float));
    std::vector<uint8_t> signature;
    if (p_.ledger != nullptr) signature = p_.ledger->sign(id, r.taking_part, model, r.outcome == Outcome::kApplied);
    Agreement a = p_.aggregator->agree(r.outcome, model, id, signature);
    if (a.agreed && r.outcome == Outcome::kApplied && p_.ledger != nullptr) {
      a.failure = p_.ledger->check(a.attachments);  // the same verdict on every leader: they judge the same bytes
      a.agreed = a.failure.empty();
    }
    if (a.agreed && r.outcome == Outcome::kApplied) {
      if (p_.ledger != nullptr) p_.ledger->append();
      failed_attempts_ = 0;
      p_.trainer->set_params(global_);
      return r.participants;
    }
    if (r.outcome == Outcome::kApplied) {
      global_.swap(global_backup_);
      p_.outer->momentum().swap(momentum_backup_);
    }
    if (a.agreed && r.outcome == Outcome::kAbandoned) {
      const std::string why = !r.abandoned_because.empty()
                                  ? r.abandoned_because
                                  : std::to_string(r.participants) + " site(s) took part, fewer than federation.min_sites";
      log_warn("round " + std::to_string(round) + " abandoned: " + why + "; the global model is unchanged");
      p_.trainer->set_params(global_);
      return 0;
    }
    if (r.failure.empty()) r.failure = a.failure;
    if (losses() != lost_before) {
      log_warn(r.failure + "; a site was lost in this attempt: it is retried without it");
      continue;
    }
    ++failed_attempts_;
    log_error(r.failure + "; the global model is unchanged (" + std::to_string(failed_attempts_) + " of " +
              std::to_string(config_.exchange.max_failed_rounds) + " consecutive failures allowed)");
    if (failed_attempts_ >= config_.exchange.max_failed_rounds) {
      throw Error("the exchange between the site leaders failed " + std::to_string(failed_attempts_) +
                  " times in a row (federation.max_failed_rounds); the job stops. Last failure: " + r.failure);
    }
  }
}

}  // namespace fedtrain
