// Checkpoints of a running federation.
#include "runtime/federation/checkpointer.h"

#include <csignal>
#include <cstring>

#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/host_exchange.h"

namespace fedtrain {
namespace {

const char* const kCrashPoints[] = {"checkpoint_write", "checkpoint_commit"};

}  // namespace

Checkpointer::Checkpointer(const Config& config, TwoLevelAgreement& agreement, SiteTrainer& trainer,
                           OuterOptimizer* outer, const ParamLayout& layout)
    : config_(config),
      agreement_(agreement),
      topo_(agreement.topology()),
      trainer_(trainer),
      outer_(outer),
      layout_text_(layout_text(layout)),
      enabled_(config.checkpoints_configured()),
      store_(enabled_ ? config.sites[topo_.site_index()].checkpoint_dir : std::string()) {
  crashes_ = injections_of(config.inject, "crash");
  for (const Injection& c : crashes_) {
    bool known = false;
    for (const char* p : kCrashPoints) known = known || c.get("at") == p;
    if (!known || config.site_index(c.get("site")) < 0 || c.get_int("round", 0) < 1)
      throw ConfigError("--inject crash: needs site=NAME (a configured site), round=N (>= 1) and "
                        "at=checkpoint_write|checkpoint_commit", /*collective=*/true);
  }
  signals_in_ = injections_of(config.inject, "signal");
  for (const Injection& i : signals_in_) {
    const std::string sig = i.get("sig", "USR1");
    if (config.site_index(i.get("site")) < 0 || i.get_int("round", 0) < 1 || i.get_int("rank", 0) < 0 ||
        (sig != "USR1" && sig != "TERM"))
      throw ConfigError("--inject signal: needs site=NAME (a configured site), round=N (>= 1), and takes rank=R "
                        "(site rank, default 0) and sig=USR1|TERM",
                        /*collective=*/true);
  }
  if (enabled_) signals_.emplace();
}

CheckpointExpectation Checkpointer::expectation() {
  CheckpointExpectation e;
  e.job_id = config_.job_id;
  e.site = topo_.site_name();
  for (const auto& s : config_.sites) e.sites.push_back(s.name);
  e.model_layout = layout_text_;
  TrainerState st;
  trainer_.save_state(st);
  e.inner_buffers = st.optimizer_names;
  if (outer_ != nullptr && !outer_->momentum().empty()) e.outer_buffers = {"momentum"};
  e.site_ranks = static_cast<size_t>(topo_.site_size());
  e.manifest_sha256 = manifest_sha256_;
  e.allow_manifest_change = config_.checkpoint_allow_manifest_change;
  return e;
}

void Checkpointer::maybe_crash(int64_t round, const std::string& at) const {
  for (const Injection& c : crashes_) {
    if (c.get("site") == topo_.site_name() && c.get_int("round", 0) == round && c.get("at") == at &&
        topo_.is_leader()) {
      log_warn("--inject crash: killing this rank (SIGKILL) at " + at + " of round " + std::to_string(round));
      std::raise(SIGKILL);
    }
  }
}

int64_t Checkpointer::resume(bool alone) {
  if (!enabled_) return 0;
  const int64_t round = agree_resume_round(alone);
  if (round == 0) return 0;
  const std::string path = store_.path_of(round);
  Checkpoint c = read_resume_file(path);
  if (!alone) check_same_global_state(round, c);  // alone: the welcome replaces both
  restore(round, path, c);
  if (topo_.is_leader())
    log_info("resuming job '" + config_.job_id + "' after round " + std::to_string(round) + " from '" + path +
             "' (the newest round every site holds intact)");
  return round;
}

// 1-3. Leaders scan their directories and agree on a round; the decision goes
// to every rank of the site. Alone (a rejoining site): the newest round this
// site holds, as if every site held it.
int64_t Checkpointer::agree_resume_round(bool alone) {
  const bool leader = topo_.is_leader();
  int64_t decision[2] = {ResumeDecision::kFresh, 0};
  std::string message;
  if (leader) {
    SiteScan scan;
    try {
      store_.prepare();
      scan = scan_checkpoints(store_, expectation());
    } catch (const Error& e) {
      scan.error = e.what();
    }
    const std::vector<std::string> texts = alone ? std::vector<std::string>(config_.sites.size(), encode_scan(scan))
                                                 : agreement_.leaders().allgather(encode_scan(scan));
    std::vector<SiteScan> scans;
    for (const std::string& text : texts) scans.push_back(decode_scan(text));
    std::vector<std::string> names, dirs;
    for (const auto& s : config_.sites) names.push_back(s.name), dirs.push_back(s.checkpoint_dir);
    const ResumeDecision d = decide_resume(config_.job_id, names, dirs, scans, config_.resume);
    decision[0] = d.kind;
    decision[1] = d.round;
    message = d.message;
  }
  broadcast_bytes(topo_.site_comm(), decision, sizeof decision, 0);
  const std::string elsewhere = "the checkpoints cannot be resumed (the leaders' logs say why)";
  switch (decision[0]) {
    case ResumeDecision::kFresh:
      if (leader) log_info("no checkpoint of job '" + config_.job_id + "' in '" + store_.dir() + "': starting at round 1");
      return 0;
    case ResumeDecision::kRefuse:
      throw ConfigError(leader ? message : elsewhere, /*collective=*/true);
    case ResumeDecision::kFail:
      throw Error(leader ? message : elsewhere, kExitRuntime, /*collective=*/true);
    default:
      return decision[1];
  }
}

// Each leader reads its file of that round, checked again in full (empty on the other ranks).
Checkpoint Checkpointer::read_resume_file(const std::string& path) {
  Checkpoint c;
  std::string error;
  if (topo_.is_leader()) {
    try {
      c = read_checkpoint_file(path);
      bool other_job = false;
      std::string misfit = checkpoint_misfit(path, c, expectation(), &other_job);
      if (!misfit.empty()) throw Error(misfit);
      if (!c.manifest_sha256.empty() && !manifest_sha256_.empty() && c.manifest_sha256 != manifest_sha256_)
        log_warn("checkpoint '" + path + "' was written under federation manifest " + c.manifest_sha256.substr(0, 16) +
                 "; resuming under manifest " + manifest_sha256_.substr(0, 16) +
                 " as checkpoint.allow_manifest_change = true asks (the checkpoints written from now on carry it)");
    } catch (const Error& e) {
      error = e.what();
    }
  }
  agreement_.agree_startup(error, kExitRuntime);
  return c;
}

// The leaders check that they hold the same global model and outer state.
void Checkpointer::check_same_global_state(int64_t round, const Checkpoint& c) {
  std::string error;
  if (topo_.is_leader()) {
    Sha256 h;
    h.update(c.model.data(), c.model.size() * sizeof(float));
    for (const NamedBuffer& b : c.outer) h.update(b.data.data(), b.data.size() * sizeof(float));
    const std::string mine = to_hex(h.finish());
    const std::vector<std::string> all = agreement_.leaders().allgather(mine);
    for (size_t s = 0; s < all.size(); ++s) {
      if (all[s] != mine)
        error = "the checkpoints of round " + std::to_string(round) + " of sites '" + topo_.site_name() + "' and '" +
                config_.sites[s].name + "' hold different global models or outer optimizer states; they cannot "
                "both belong to one federation";
    }
  }
  agreement_.agree_startup(error, kExitRuntime);
}

// The leader's state of that round to every rank of its site, into the trainer (and the outer optimizer).
void Checkpointer::restore(int64_t round, const std::string& path, Checkpoint& c) {
  const bool leader = topo_.is_leader();
  TrainerState st;
  trainer_.save_state(st);
  if (leader) {
    st.params = std::move(c.model);
    for (size_t i = 0; i < st.optimizer.size(); ++i)
      for (NamedBuffer& b : c.inner)
        if (b.name == st.optimizer_names[i]) st.optimizer[i] = std::move(b.data);
  }
  const Comm& site = topo_.site_comm();
  broadcast_bytes(site, st.params.data(), st.params.size() * sizeof(float), 0);
  for (auto& b : st.optimizer) broadcast_bytes(site, b.data(), b.size() * sizeof(float), 0);
  std::vector<uint64_t> ints(1 + 2 * static_cast<size_t>(topo_.site_size()));
  if (leader) {
    ints[0] = static_cast<uint64_t>(c.inner_steps);
    for (size_t r = 0; r < c.data.size(); ++r) ints[1 + 2 * r] = c.data[r].epoch, ints[2 + 2 * r] = c.data[r].cursor;
  }
  broadcast_bytes(site, ints.data(), ints.size() * sizeof(uint64_t), 0);
  st.optimizer_steps = static_cast<int64_t>(ints[0]);
  st.loader.epoch = ints[1 + 2 * static_cast<size_t>(topo_.site_rank())];
  st.loader.cursor = ints[2 + 2 * static_cast<size_t>(topo_.site_rank())];
  std::string error;
  try {
    trainer_.load_state(st);
    if (leader && outer_ != nullptr)
      for (NamedBuffer& b : c.outer)
        if (b.name == "momentum") outer_->momentum() = std::move(b.data);
  } catch (const Error& e) {
    error = "cannot restore round " + std::to_string(round) + " from '" + path + "': " + e.what() +
            " (did this site's training data change?)";
  }
  agreement_.agree_startup(error, kExitRuntime);
}

int Checkpointer::agree_stop(int64_t round) {
  if (!enabled_) return 0;
  for (const Injection& i : signals_in_) {
    if (i.get("site") == topo_.site_name() && i.get_int("rank", 0) == topo_.site_rank() &&
        i.get_int("round", 0) == round)
      std::raise(i.get("sig", "USR1") == "TERM" ? SIGTERM : SIGUSR1);  // to this process only
  }
  if (!topo_.one_job_per_site()) return static_cast<int>(agreement_.max_over(signals_->requested()));
  // One job per site: SIGTERM stops this site alone (it leaves); SIGUSR1 (a time limit) stops every site.
  const int64_t site = agreement_.max_over_site(signals_->requested());
  leaving_ = site == SIGTERM;
  const int64_t all = agreement_.max_over(leaving_ ? 0 : site);
  return static_cast<int>(leaving_ ? site : all);
}

bool Checkpointer::after_round(const RoundId& id, bool last_round, bool stopping) {
  if (!enabled_) return false;
  const int every = config_.checkpoint_every;
  const bool due = every > 0 && (id.round % every == 0 || last_round);
  if (!stopping && !due) return false;
  const bool leaving = stopping && leaving_;  // this site alone stops

  // 1. Every rank's loader position, to the leader.
  const BatchSource::Position p = trainer_.loader().position();
  const LoaderPosition mine{p.epoch, p.cursor};
  const std::vector<std::string> positions =
      allgather_strings(topo_.site_comm(), std::string(reinterpret_cast<const char*>(&mine), sizeof mine));
  if (topo_.is_leader()) write_round(id, positions, !leaving || due);
  // Before a stop no rank may exit while a leader still writes: launchers
  // (mpirun, srun) kill the whole job when the first rank exits.
  if (leaving) agreement_.max_over_site(0);
  else if (stopping) agreement_.all_of(true);
  return true;
}

void Checkpointer::write_round(const RoundId& id, const std::vector<std::string>& positions, bool with_leaders) {

  // 2. The leader writes the site's checkpoint.
  Checkpoint c;
  c.job_id = config_.job_id;
  c.round = id.round;
  c.attempt = id.attempt;
  c.config_text = config_.resolved_text;
  c.manifest_sha256 = manifest_sha256_;  // "" in plaintext mode
  c.site = topo_.site_name();
  for (const auto& s : config_.sites) c.sites.push_back(s.name);
  c.model_layout = layout_text_;
  TrainerState st;
  trainer_.save_state(st);
  c.model = std::move(st.params);  // theta_global: every rank's parameters at a round boundary
  for (size_t i = 0; i < st.optimizer.size(); ++i) c.inner.push_back({st.optimizer_names[i], std::move(st.optimizer[i])});
  c.inner_steps = st.optimizer_steps;
  if (outer_ != nullptr && !outer_->momentum().empty()) c.outer.push_back({"momentum", outer_->momentum()});
  for (const std::string& s : positions) {
    LoaderPosition q;
    std::memcpy(&q, s.data(), sizeof q);
    c.data.push_back(q);
  }
  WriteProgress progress;
  for (const Injection& crash : crashes_) {
    if (crash.get("at") == "checkpoint_write" && crash.get("site") == c.site && crash.get_int("round", 0) == id.round)
      progress = [this, round = id.round](size_t written, size_t total) {
        if (written == (total + 1) / 2) maybe_crash(round, "checkpoint_write");
      };
  }
  const std::string path = store_.write(c, progress);
  maybe_crash(id.round, "checkpoint_commit");

  // 3. Old files go only once every site holds this round.
  if (!with_leaders) return;  // a site that leaves alone keeps its older files
  agreement_.leaders().all_of(true);
  for (const std::string& old : store_.prune(id.round, config_.checkpoint_keep_last)) log_debug("removed '" + old + "'");
  log_debug("checkpoint of round " + std::to_string(id.round) + " written to '" + path + "'");
}

Sha256Digest training_state_hash(SiteTrainer& trainer, OuterOptimizer* outer) {
  TrainerState st;
  trainer.save_state(st);
  Sha256 h;
  h.update(st.params.data(), st.params.size() * sizeof(float));
  for (size_t i = 0; i < st.optimizer.size(); ++i) {
    h.update(st.optimizer_names[i].data(), st.optimizer_names[i].size());
    h.update(st.optimizer[i].data(), st.optimizer[i].size() * sizeof(float));
  }
  h.update(&st.optimizer_steps, sizeof st.optimizer_steps);
  h.update(&st.loader.epoch, sizeof st.loader.epoch);
  h.update(&st.loader.cursor, sizeof st.loader.cursor);
  if (outer != nullptr) h.update(outer->momentum().data(), outer->momentum().size() * sizeof(float));
  return h.finish();
}

}  // namespace fedtrain
