// Checkpoints of a running federation: written at round boundaries, agreed on and restored at start-up.
//
// Writing, at the end of a round that is due (every checkpoint.every rounds,
// the last round, or a stop request agreed by all ranks):
//   1. every rank: its loader position, gathered over site_comm
//   2. site leader: its state (theta_global, inner optimizer, step count) and
//      the outer optimizer's, written to DIR/round-N.h5 atomically (CheckpointStore)
//   3. leaders: all_of(written) over the leaders' group; only then does each leader
//      remove its files beyond checkpoint.keep_last, so that a round every site
//      holds is never removed before a newer one exists on every site
//   4. before a stop: a federation-wide all_of (two levels), so that no rank
//      exits (and makes the launcher kill the job) while a leader still writes
// With one job per site SIGTERM stops one site alone: its ranks agree on it
// over site_comm, the site writes its checkpoint (step 3 only when the round
// is due on every site anyway), waits for its own ranks and leaves; the other
// sites go on without it (membership.h). SIGUSR1 (a time limit before a
// requeue) still stops every site at the same round boundary.
// Resuming is described in checkpoint/resume_agreement.h.
//
// Nothing here is used when no site has a checkpoint_dir (enabled() false).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/checkpoint/resume_agreement.h"
#include "runtime/collectives/two_level_agreement.h"
#include "runtime/core/config.h"
#include "runtime/core/injection.h"
#include "runtime/core/stop_signals.h"
#include "runtime/crypto/sha256.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/outer_optimizer.h"
#include "runtime/site/site_trainer.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

class Checkpointer {
 public:
  // `outer` on leaders only (nullptr elsewhere). Installs the SIGTERM/SIGUSR1
  // handlers when checkpoints are configured. Throws ConfigError on a bad
  // --inject crash spec.
  Checkpointer(const Config& config, TwoLevelAgreement& agreement, SiteTrainer& trainer, OuterOptimizer* outer,
               const ParamLayout& layout);

  bool enabled() const { return enabled_; }
  // Leaders in secure mode: the federation manifest's SHA-256 (hex), recorded in every checkpoint
  // and compared on resume with the one a checkpoint records (checkpoint.allow_manifest_change).
  void set_manifest_sha256(std::string hex) { manifest_sha256_ = std::move(hex); }

  // Collective over the federation, before the first round: finds the newest round
  // every site holds intact and loads it on every rank (trainer state, outer
  // optimizer). Returns that round, or 0 for a fresh start. Throws a
  // collective ConfigError when the checkpoints do not fit this run (another
  // model, site set, or federation manifest), a collective Error when no
  // common round exists. `alone` (a site that rejoins a running federation,
  // rejoin.h): only this site's newest intact round, loaded on its ranks (its
  // inner state; the global model and momentum then come from the welcome).
  int64_t resume(bool alone = false);

  // Collective over the federation at the end of round `round`: the signal
  // that asked any rank to stop (SIGTERM, SIGUSR1), 0 if none. One job per
  // site: a SIGTERM counts on its own site only.
  int agree_stop(int64_t round);

  // Collective over every site and over the leaders (and the federation when
  // `stopping`): writes the round's checkpoint if it is due (every
  // checkpoint.every rounds, the last round, a stop). Returns whether it was due.
  bool after_round(const RoundId& id, bool last_round, bool stopping);

  // The file this site wrote for `round` (leaders).
  std::string path_of(int64_t round) const { return store_.path_of(round); }

 private:
  CheckpointExpectation expectation();
  // resume()'s steps, each collective over the world.
  int64_t agree_resume_round(bool alone);  // 0: start fresh
  Checkpoint read_resume_file(const std::string& path);
  void check_same_global_state(int64_t round, const Checkpoint& c);
  void restore(int64_t round, const std::string& path, Checkpoint& c);
  // Steps 2-3 on a leader; `positions` holds every site rank's LoaderPosition bytes.
  // `with_leaders`: step 3 (the others write this round too).
  void write_round(const RoundId& id, const std::vector<std::string>& positions, bool with_leaders);
  void maybe_crash(int64_t round, const std::string& at) const;

  const Config& config_;
  TwoLevelAgreement& agreement_;
  const Topology& topo_;
  SiteTrainer& trainer_;
  OuterOptimizer* outer_;
  std::string layout_text_;
  bool enabled_;
  CheckpointStore store_;
  std::optional<StopSignals> signals_;
  std::string manifest_sha256_;
  bool leaving_ = false;  // one job per site: the stop agreed last is this site's SIGTERM (it leaves alone)
  std::vector<Injection> crashes_;  // --inject crash:site=NAME,round=N,at=checkpoint_write|checkpoint_commit
  std::vector<Injection> signals_in_;  // --inject signal:site=NAME,rank=R,round=N,sig=USR1|TERM
};

// SHA-256 over everything a rank would need to continue: parameters, inner
// optimizer buffers and step count, loader position, and (leaders) the outer
// optimizer's buffers. Equal on two runs exactly when they can continue alike.
Sha256Digest training_state_hash(SiteTrainer& trainer, OuterOptimizer* outer);

}  // namespace fedtrain
