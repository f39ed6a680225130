// A whole federated training job on one rank.
#include "runtime/federation/job.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include "fedtrain/features.h"
#include "kernels/cpu/blas_core.h"
#include "runtime/core/injection.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/federation/leader_exchange.h"
#include "runtime/federation/checkpointer.h"
#include "runtime/federation/round_driver.h"
#include "runtime/federation/round_ledger.h"
#include "runtime/model/model_factory.h"
#include "runtime/federation/secure_setup.h"
#include "runtime/federation/site_data.h"
#include "runtime/metrics/prometheus_exporter.h"
#include "runtime/metrics/round_report.h"
#include "runtime/collectives/two_level_agreement.h"

namespace fedtrain {
namespace {

// OpenBLAS's thread count from the config (see blas_core.h), whatever the launcher put in the environment.
void fix_blas_threads(const Config& config, const Topology& topo) {
  kernels::cpu::set_blas_threads(config.blas_threads);
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  if (topo.is_leader() && env != nullptr && std::string(env) != std::to_string(config.blas_threads))
    log_info("OPENBLAS_NUM_THREADS=" + std::string(env) + " is overridden: site " + topo.site_name() +
             "'s ranks run OpenBLAS on site.blas_threads = " + std::to_string(config.blas_threads) +
             " thread(s), so that the model does not depend on how the job was launched");
}

std::unique_ptr<RoundLedger> open_round_ledger(const Config& config, const Topology& topo) {
  std::vector<std::string> leaders;
  for (const auto& s : topo.sites()) leaders.push_back(s.name);
  return std::make_unique<RoundLedger>(config, topo.site_index(), leaders);
}

// A ledger ahead of the round the job resumes from: its later records belong
// to rounds the federation is about to train again.
void roll_back_ledger(RoundLedger& ledger, int64_t resumed) {
  const size_t moved = ledger.roll_back_to(resumed);
  if (moved > 0)
    log_warn("ledger '" + ledger.path() + "': " + std::to_string(moved) + " record(s) of rounds after round " +
             std::to_string(resumed) + ", which this run trains again, moved to '" + ledger.path() +
             ".discarded' (the run that wrote them stopped before a checkpoint every site holds)");
}

// One line for the banner: where the rounds are recorded, or why they are not.
std::string ledger_summary(const RoundLedger* ledger) {
  if (ledger == nullptr)
    return "off: the manifest lists no signing keys ([site.NAME] signing_key_file from 'fedtrain keygen'; "
           "docs/operations.md)";
  return "every round signed by every leader (Ed25519); this site's in " + ledger->path() + " (" +
         std::to_string(ledger->records()) + " records)";
}

// A restarted site (one job per site), once its trainer stands with its own
// inner state (its newest checkpoint, or fresh): the leader waits to be
// admitted (rejoin.h) and takes the global model and outer momentum of the
// welcome; every rank of the site then starts from that model. Returns the
// round it takes part from. Collective over site_comm only.
int64_t rejoin_federation(TwoLevelAgreement& agreement, LeaderExchange* exchange, SiteTrainer& trainer,
                          OuterOptimizer* outer) {
  int64_t round = 0;
  std::string error;
  int code = kExitRuntime;
  if (exchange != nullptr) {
    try {
      Welcome w = exchange->rejoin(trainer.params().size());
      FT_CHECK(outer != nullptr && w.momentum.size() == outer->momentum().size(), "momentum of the welcome");
      outer->momentum() = std::move(w.momentum);
      trainer.set_params(w.global);
      round = w.round;
    } catch (const Error& e) {
      error = e.what();
      code = e.exit_code();
    }
  }
  const int64_t failed = agreement.max_over_site(error.empty() ? 0 : code);
  if (failed != 0) {
    if (!error.empty()) throw Error(error, static_cast<int>(failed));
    throw Error("this site's leader could not rejoin the federation (its log says why)", static_cast<int>(failed));
  }
  round = agreement.max_over_site(round);
  trainer.broadcast_params();
  return round;
}

// Start-up's first half on every rank: each leader its site's identity, the
// other leaders and its ledger, then every rank its own data. The first
// failure is kept for the agreement that follows (a bad key file or data of
// the wrong kind exits 2, bad data 1), so that every rank stops alike.
struct Startup {
  SiteData data;
  std::optional<LeaderExchange> exchange;
  std::unique_ptr<RoundLedger> ledger;
  std::string error;
  int error_code = kExitRuntime;

  void keep(const Error& e) {
    if (!error.empty()) return;
    error = e.what();
    error_code = e.exit_code();
  }
};

void open_site(const Config& config, const Topology& topo, Startup& s) {
  try {
    if (topo.is_leader()) {
      s.exchange.emplace(config, topo);
      s.exchange->prepare();
      if (config.ledger_configured()) s.ledger = open_round_ledger(config, topo);
    }
  } catch (const Error& e) {
    s.keep(e);
  }
  try {
    if (s.exchange) s.exchange->open_leaders();
  } catch (const Error& e) {
    s.keep(e);
  }
  try {
    s.data = load_site_data(config, topo);
  } catch (const Error& e) {
    s.keep(e);
  }
}

void refuse_rejoin_with_ledger(const Config& config, bool rejoining) {
  if (rejoining && config.ledger_configured())
    throw Error("the federation is already running and this site would rejoin it, but a site cannot rejoin while "
                "the signed round ledger is on yet (its ledger would lack the rounds it missed): the others go on "
                "without it. To bring it back, stop every site at a round boundary (SIGUSR1) and start them all "
                "again, or run without signing keys (docs/operations.md, 'When a site leaves')");
}

// What watches the rounds: the evaluator, the first site's report (table and
// metrics file) and each leader's Prometheus endpoint.
struct Observers {
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<RoundReport> report;
  std::unique_ptr<PrometheusExporter> exporter;
};

void open_observers(const Config& config, const Topology& topo, Startup& s, Collectives& site, int64_t resumed,
                    bool reporting, Observers& o) {
  if (s.data.eval) o.evaluator = std::make_unique<Evaluator>(std::move(s.data.eval), site);
  if (reporting) {
    std::vector<std::string> sites;
    for (const auto& c : config.sites) sites.push_back(c.name);
    o.report = std::make_unique<RoundReport>(config.metrics_file, config.job_id, stdout, resumed, sites,
                                             config.model_kind == ModelKind::kGpt);
  }
  if (topo.is_leader() && config.monitoring.port > 0) {
    // One endpoint per site leader; port + site index keeps leaders on one host apart.
    const bool evaluating_site = topo.site_index() == 0;
    o.exporter = std::make_unique<PrometheusExporter>(config.monitoring.address,
                                                      config.monitoring.port + topo.site_index(), config.job_id,
                                                      topo.site_name(), topo.n_sites(), evaluating_site);
    if (s.exchange) o.exporter->set_peer_source([&ex = *s.exchange] { return ex.peer_stats(); });
    log_info("Prometheus metrics at " + o.exporter->url());
  }
}

void print_banner(const Config& config, const Topology& topo, const Model& model, LeaderExchange& exchange,
                  const RoundLedger* ledger, const SiteTrainer& trainer, const Checkpointer& checkpoints,
                  int64_t resumed) {
  std::printf("fedtrain %s: job %s, %d sites (%s), %d ranks, %s\n", FEDTRAIN_VERSION, config.job_id.c_str(),
              topo.n_sites(), topo.describe().c_str(), topo.world_size(), model.describe().c_str());
  std::printf("federation: %d rounds x %d local steps, batch %d per rank, aggregation %s\n", config.rounds,
              config.local_steps, config.batch_size, exchange.aggregator().name());
  std::printf("privacy: %s\n", privacy_summary(config).c_str());
  std::printf("ledger: %s\n", ledger_summary(ledger).c_str());
  std::printf("kernels: %s, %d thread(s) per rank (site.blas_threads)\n", kernels::cpu::blas_description().c_str(),
              config.blas_threads);
  std::printf("metrics: %s\n", config.metrics_file.c_str());
  std::printf("device: site %s on %s\n", topo.site_name().c_str(), trainer.describe().c_str());
  if (checkpoints.enabled()) {
    std::printf("checkpoints: %s, keep %d per site%s\n",
                config.checkpoint_every > 0 ? ("every " + std::to_string(config.checkpoint_every) + " rounds").c_str()
                                            : "only when stopped by SIGTERM/SIGUSR1",
                config.checkpoint_keep_last,
                resumed > 0 ? (", resumed after round " + std::to_string(resumed)).c_str() : "");
  }
  std::fflush(stdout);
}

RoundParts round_parts(const Config& config, Startup& s, SiteTrainer& trainer, Model& model, Collectives& site,
                       OuterOptimizer* outer, Observers& o, Checkpointer& checkpoints, double site_weight) {
  RoundParts parts;
  parts.trainer = &trainer;
  parts.model = &model;
  parts.site = &site;
  parts.aggregator = s.exchange ? &s.exchange->aggregator() : nullptr;
  parts.injections = parse_injections(config.inject);
  parts.outer = outer;
  parts.evaluator = o.evaluator.get();
  if (checkpoints.enabled()) parts.checkpoints = &checkpoints;
  parts.ledger = s.ledger.get();
  if (o.report) parts.observers.push_back(o.report.get());
  if (o.exporter) parts.observers.push_back(o.exporter.get());
  parts.site_weight = site_weight;
  parts.setup_bytes = s.exchange ? s.exchange->setup_bytes() : 0;
  if (s.exchange && s.exchange->membership() != nullptr) {
    LeaderExchange& ex = *s.exchange;
    parts.members.membership = ex.membership();
    parts.members.regroup = [&ex](int64_t round) { return &ex.regroup(round); };
    parts.members.losses = [&ex] { return ex.losses(); };
    parts.members.ready = [&ex](int64_t round) { return ex.ready_to_join(round); };
    parts.members.welcome = [&ex](int site_index, int64_t round, const std::vector<float>& global,
                                  const std::vector<float>& momentum) { ex.welcome(site_index, round, global, momentum); };
  }
  return parts;
}

// The model this rank ends with (or holds already), and everything it would continue from.
void record_model(JobResult& result, SiteTrainer& trainer, OuterOptimizer* outer) {
  const std::span<const float> params = trainer.params();
  result.params_hash = sha256(params.data(), params.size_bytes());
  result.params.assign(params.begin(), params.end());
  result.state_hash = training_state_hash(trainer, outer);
}

// The leader joins the other leaders (one job per site: over TCP). An error
// every leader sees alike is kept for the start-up agreement; any other aborts.
void connect_leader(Startup& s) {
  try {
    s.exchange->connect();  // a site whose shared settings differ stops every site here (exit 2)
  } catch (const Error& e) {
    if (!e.collective()) throw;  // the other leaders may be waiting in the exchange: abort
    s.error = e.what();
    s.error_code = e.exit_code();
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Stopped by SIGTERM/SIGUSR1 after the checkpoint of `result.rounds`: the other
// leaders are told (one job per site), so that they go on without this site.
void leave_federation(const Topology& topo, Startup& s, const Checkpointer& checkpoints, const JobResult& result) {
  if (s.exchange && s.exchange->membership() != nullptr) s.exchange->membership()->leave();
  if (topo.is_leader())
    log_info(signal_name(result.stop_signal) + " asked the job to stop: round " + std::to_string(result.rounds) +
             " is checkpointed in '" + checkpoints.path_of(result.rounds) + "'; exiting with code " +
             std::to_string(kExitPreempted) + " (run the same command again to resume)");
}

// Every round trained: the report's summary (the reporting rank; the job took
// `seconds`), the model every leader ends with, the metrics endpoint's linger.
void finish_job(const Config& config, const Topology& topo, Observers& observers, const JobResult& result,
                bool reporting, double seconds) {
  if (reporting) observers.report->finish(topo.describe(), seconds);
  // Every leader names the model it ends with: launches of one federation compare it.
  if (topo.is_leader())
    log_info("site " + topo.site_name() + ": global model after round " + std::to_string(result.rounds) +
             " has sha256 " + to_hex(result.params_hash));
  if (observers.exporter) observers.exporter->linger(config.monitoring.linger_s);
}

}  // namespace

JobResult run_job(const Config& config, const Topology& topo) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool reporting = topo.site_index() == 0 && topo.is_leader();
  fix_blas_threads(config, topo);

  // Start-up: every rank checks and loads its own data, each leader its site's
  // identity and joins the other leaders, then all agree in two levels.
  Startup s;
  open_site(config, topo, s);
  TwoLevelAgreement agreement(topo, s.exchange ? s.exchange->leaders() : nullptr);
  // One job per site: the federation may train already (this site restarted): it rejoins (rejoin.h).
  const bool rejoining = agreement.max_over_site(s.exchange && s.exchange->rejoining() ? 1 : 0) > 0;
  refuse_rejoin_with_ledger(config, rejoining);
  agreement.agree_startup(s.error, s.error_code);
  agree_data_shape(config, agreement, s.data);

  std::unique_ptr<Model> model = make_model(config, s.data.shape);
  std::unique_ptr<Collectives> site_coll = make_mpi_collectives(topo.site_comm());
  std::unique_ptr<OuterOptimizer> outer;
  double site_weight = 0.0;
  if (topo.is_leader()) {
    connect_leader(s);
    outer = std::make_unique<OuterOptimizer>(config.outer, model->param_count());
    site_weight = s.data.samples;
  }
  agreement.agree_startup(s.error, s.error_code);

  // The site's trainer on the CPU or a GPU (run.device), then checkpoints:
  // resume from the newest round every site holds intact, if any.
  std::unique_ptr<SiteTrainer> trainer = make_site_trainer(config, agreement, *site_coll, *model, *s.data.train);
  Checkpointer checkpoints(config, agreement, *trainer, outer.get(), model->layout());
  if (s.exchange) checkpoints.set_manifest_sha256(s.exchange->manifest_sha256());
  const int64_t resumed = checkpoints.resume(rejoining);

  Observers observers;
  std::string error;
  try {
    if (s.ledger) roll_back_ledger(*s.ledger, resumed);
    open_observers(config, topo, s, *site_coll, resumed, reporting, observers);
  } catch (const Error& e) {
    error = e.what();
  }
  agreement.agree_startup(error, kExitRuntime);
  const int64_t join_round =
      rejoining ? rejoin_federation(agreement, s.exchange ? &*s.exchange : nullptr, *trainer, outer.get()) : 0;

  if (reporting) print_banner(config, topo, *model, *s.exchange, s.ledger.get(), *trainer, checkpoints, resumed);
  if (topo.is_leader() && !reporting) log_info("site " + topo.site_name() + " trains on " + trainer->describe());
  RoundParts parts = round_parts(config, s, *trainer, *model, *site_coll, outer.get(), observers, checkpoints, site_weight);
  if (parts.members.membership != nullptr) s.exchange->begin_rounds();  // a lost site now leaves the rounds, not the job
  RoundDriver driver(config, topo, parts);
  JobResult result;
  result.resumed_after = resumed;
  if (!rejoining && resumed >= config.rounds) {
    if (reporting)
      std::printf("fedtrain: job %s already holds round %lld (federation.rounds = %d): nothing to train; raise "
                  "federation.rounds to train on\n",
                  config.job_id.c_str(), static_cast<long long>(resumed), config.rounds);
    result.rounds = resumed;
    record_model(result, *trainer, outer.get());
    return result;
  }
  const RoundMetrics last = driver.run(rejoining ? join_round : resumed + 1, config.rounds);
  result.rounds = last.round;
  result.test_loss = last.test_loss;
  result.test_accuracy = last.test_accuracy;
  record_model(result, *trainer, outer.get());
  // A stop asked for during the last round changes nothing: the job is complete.
  result.stop_signal = last.round < config.rounds ? driver.stop_signal() : 0;
  if (result.stop_signal != 0) {
    leave_federation(topo, s, checkpoints, result);
  } else {
    finish_job(config, topo, observers, result, reporting, seconds_since(t0));
  }
  return result;
}

}  // namespace fedtrain
