// One federation round after another, on every rank of every site.
//
// A round, step by step (see docs/architecture.md):
//   1. every rank: H inner steps of synchronous data parallel (SiteTrainer)
//   2. site: training loss summed over site_comm
//   3. leaders: delta = theta_global - theta_site (pseudo-gradient), its norm and finiteness
//   4. leaders, one job per site: who is present (membership.h), agreed
//      before every attempt; a site that left is named in the log and the
//      aggregator is rebuilt over the others (LeaderExchange::regroup); a
//      restarted site that is ready is admitted, sent the global model and
//      momentum (rejoin.h), and the aggregator rebuilt over all of them
//   4. leaders: Aggregator::average: statuses exchanged, participation decided,
//      weighted average of the deltas (secure or plaintext). Three outcomes:
//        applied   -> 5. outer step on theta_global (OuterOptimizer), tentatively
//        abandoned -> below quorum: theta_global unchanged
//        failed    -> a message did not open: theta_global unchanged
//   6. leaders: Aggregator::agree, whatever the outcome: every leader's outcome
//      and the SHA-256 of its theta_global. Only the same outcome and hash on
//      every leader counts; otherwise the step is undone and the exchange is
//      retried with attempt + 1 (fresh keys and masks). After
//      federation.max_failed_rounds consecutive failures the job stops (an
//      attempt that failed because a site was lost in it does not count).
//      With the ledger (round_ledger.h) each leader's signature of the round's
//      record travels with its outcome; a record or signature that does not
//      match fails the attempt the same way; an agreed round is appended.
//   7. site: theta_global broadcast from the leader to every rank (also after an
//      abandoned round: every site restarts from the unchanged global model)
//   8. evaluating site: test loss and accuracy of theta_global
//   9. leaders: round totals exchanged (loss, bytes, test results)
//  10. every rank: stop requests agreed over the world; the round's checkpoint
//      written when due (Checkpointer); observers told
#pragma once

#include <functional>
#include <vector>

#include "runtime/core/injection.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/checkpointer.h"
#include "runtime/federation/membership.h"
#include "runtime/federation/outer_optimizer.h"
#include "runtime/federation/round_ledger.h"
#include "runtime/metrics/round_metrics.h"
#include "runtime/site/evaluator.h"
#include "runtime/site/site_trainer.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

// One job per site (leaders): who is present, and the aggregator rebuilt over them.
struct Regrouping {
  Membership* membership = nullptr;                    // nullptr: one MPI world, nobody leaves
  std::function<Aggregator*(int64_t round)> regroup;  // over membership->members(), from `round` on
  std::function<uint64_t()> losses;                    // peers lost so far (a change fails the attempt)
  // Rejoining (rejoin.h): which absent sites are ready, and the welcome to one admitted at `round`.
  std::function<std::vector<bool>(int64_t round)> ready;
  std::function<void(int site, int64_t round, const std::vector<float>& global, const std::vector<float>& momentum)>
      welcome;
};

struct RoundParts {
  SiteTrainer* trainer = nullptr;          // every rank
  Model* model = nullptr;                  // every rank
  Collectives* site = nullptr;             // every rank
  Aggregator* aggregator = nullptr;        // leaders only
  OuterOptimizer* outer = nullptr;         // leaders only
  Evaluator* evaluator = nullptr;          // ranks of the evaluating site only
  Checkpointer* checkpoints = nullptr;     // every rank, or none (no checkpoints)
  RoundLedger* ledger = nullptr;           // leaders, or none (no signing keys in the manifest)
  double site_weight = 0.0;                // leaders: this site's sample count
  uint64_t setup_bytes = 0;                // leaders: sent before the aggregator existed; counted in the first round
  Regrouping members;                      // leaders with one job per site
  std::vector<RoundObserver*> observers;   // told after every round, on the ranks they are given to
  std::vector<Injection> injections;       // test-only faults (--inject nan:...)
};

class RoundDriver {
 public:
  RoundDriver(const Config& config, const Topology& topology, RoundParts parts);

  // Runs rounds first .. last (1-based, inclusive), or fewer when a stop is
  // requested (stop_signal()). Returns the last round's metrics (complete on
  // leaders; test values also on the evaluating site).
  RoundMetrics run(int64_t first, int64_t last);
  // The signal (SIGTERM, SIGUSR1) that stopped run() early after a checkpoint, 0 if none.
  int stop_signal() const { return stop_signal_; }

  // Leaders: the global model (theta_global).
  std::vector<float>& global() { return global_; }

 private:
  RoundMetrics run_round(int64_t round);
  // Leaders: steps 3-6 with retries. Returns the participating sites (0 if abandoned).
  int exchange(int64_t round);
  size_t totals_count() const;
  // Leaders, one job per site: agrees on who is present before an attempt; regroups when a site left.
  void update_members(int64_t round);
  void hold_for_rejoin(int64_t round);
  uint64_t losses() const { return p_.members.losses ? p_.members.losses() : 0; }
  // Bytes this leader sent to other sites so far, every aggregator it had included.
  uint64_t sent_bytes() const { return p_.setup_bytes + retired_bytes_ + p_.aggregator->sent_bytes(); }
  // test loss and accuracy (mlp), or every site's validation bits per byte (gpt), from the summed totals.
  void read_evaluations(const std::vector<double>& totals, RoundMetrics& m) const;

  const Config& config_;
  const Topology& topo_;
  RoundParts p_;
  std::vector<float> global_, delta_, global_backup_, momentum_backup_;
  int failed_attempts_ = 0;  // consecutive
  uint64_t counted_bytes_ = 0;  // this leader's egress already attributed to a round
  uint64_t retired_bytes_ = 0;  // sent by aggregators replaced when the membership changed
  int64_t attempt_ = 0;         // leaders: the attempt that completed the current round
  int64_t last_ = 0;
  int stop_signal_ = 0;
};

}  // namespace fedtrain
