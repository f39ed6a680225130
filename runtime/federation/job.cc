// A whole federated training job on one rank.
#include "runtime/federation/job.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "fedtrain/features.h"
#include "kernels/cpu/blas_core.h"
#include "runtime/collectives/metered_collectives.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/data/shuffle.h"
#include "runtime/federation/round_driver.h"
#include "runtime/metrics/prometheus_exporter.h"
#include "runtime/metrics/round_report.h"
#include "runtime/topology/agreement.h"

namespace fedtrain {
namespace {

std::string describe_model(const Mlp& model, const std::vector<int>& hidden) {
  std::string s = "MLP " + std::to_string(model.input_dim());
  for (int h : hidden) s += "-" + std::to_string(h);
  s += "-" + std::to_string(model.classes()) + " (" + std::to_string(model.param_count()) + " parameters)";
  return s;
}

}  // namespace

JobResult run_job(const Config& config, const Topology& topo) {
  const auto t0 = std::chrono::steady_clock::now();
  const SiteConfig& site = config.sites[topo.site_index()];
  const bool evaluating_site = topo.site_index() == 0;
  const bool reporting = evaluating_site && topo.is_leader();

  // Start-up: every rank checks and loads its own data, then all agree.
  DatasetInfo train_info, test_info;
  std::optional<ShardLoader> loader;
  std::string error;
  try {
    train_info = inspect_dataset(site.data);
    if (evaluating_site) test_info = inspect_dataset(config.test_file);
    loader.emplace(site.data, train_info, topo.site_rank(), topo.site_size(),
                   mix_seed(mix_seed(config.seed, static_cast<uint64_t>(topo.site_index())),
                            static_cast<uint64_t>(topo.site_rank())));
  } catch (const Error& e) {
    error = e.what();
  }
  agree_startup(topo.world(), error, kExitRuntime);

  // Every site must feed the same model shape.
  const auto [fmin, fmax] = min_max(topo.world(), static_cast<int64_t>(train_info.features));
  const auto [cmin, cmax] = min_max(topo.world(), train_info.classes);
  if (fmin != fmax)
    throw Error("the sites' training data disagree on the feature count (" + std::to_string(fmin) + " vs " +
                    std::to_string(fmax) + "): every site must be prepared for the same model",
                kExitRuntime, /*collective=*/true);
  const int classes = static_cast<int>(cmax);
  if (evaluating_site && (test_info.features != train_info.features || test_info.classes > classes)) {
    error = "test file '" + config.test_file + "' has " + std::to_string(test_info.features) + " features and " +
            std::to_string(test_info.classes) + " classes; the training data have " +
            std::to_string(train_info.features) + " and " + std::to_string(classes);
  }
  agree_startup(topo.world(), error, kExitRuntime);

  Mlp model(static_cast<int>(train_info.features), config.hidden, classes);
  std::unique_ptr<Collectives> site_coll = make_mpi_collectives(topo.site_comm());
  std::unique_ptr<Collectives> leaders_raw;
  std::unique_ptr<MeteredCollectives> leaders;
  std::unique_ptr<Aggregator> aggregator;
  std::unique_ptr<OuterOptimizer> outer;
  double site_weight = 0.0;
  if (topo.is_leader()) {
    leaders_raw = make_mpi_collectives(topo.leaders_comm());
    leaders = std::make_unique<MeteredCollectives>(*leaders_raw);
    aggregator = make_plain_aggregator(*leaders);
    outer = std::make_unique<OuterOptimizer>(config.outer, model.param_count());
    site_weight = static_cast<double>(train_info.rows);
  }

  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<RoundReport> report;
  std::unique_ptr<PrometheusExporter> exporter;
  try {
    if (evaluating_site) evaluator = std::make_unique<Evaluator>(config.test_file, test_info, *site_coll);
    if (reporting) report = std::make_unique<RoundReport>(config.metrics_file, config.job_id, stdout);
    if (topo.is_leader() && config.monitoring.port > 0) {
      // One endpoint per site leader; port + site index keeps leaders on one host apart.
      exporter = std::make_unique<PrometheusExporter>(config.monitoring.address,
                                                      config.monitoring.port + topo.site_index(), config.job_id,
                                                      topo.site_name(), topo.n_sites(), evaluating_site);
      log_info("Prometheus metrics at " + exporter->url());
    }
  } catch (const Error& e) {
    error = e.what();
  }
  agree_startup(topo.world(), error, kExitRuntime);

  if (reporting) {
    std::printf("fedtrain %s: job %s, %d sites (%s), %d ranks, %s\n", FEDTRAIN_VERSION, config.job_id.c_str(),
                topo.n_sites(), topo.describe().c_str(), topo.world_size(),
                describe_model(model, config.hidden).c_str());
    std::printf("federation: %d rounds x %d local steps, batch %d per rank, aggregation %s\n", config.rounds,
                config.local_steps, config.batch_size, aggregator->name());
    std::printf("kernels: %s\n", kernels::cpu::blas_description().c_str());
    std::printf("metrics: %s\n", config.metrics_file.c_str());
    std::fflush(stdout);
  }
  if (topo.is_leader()) {
    log_warn("federation.secure is not available yet: site updates cross site borders in clear "
             "(plaintext MPI_Allreduce over leaders_comm)");
  }

  SiteTrainer trainer(config, *site_coll, model, *loader);
  RoundParts parts;
  parts.trainer = &trainer;
  parts.model = &model;
  parts.site = site_coll.get();
  parts.leaders = leaders.get();
  parts.aggregator = aggregator.get();
  parts.outer = outer.get();
  parts.evaluator = evaluator.get();
  if (report) parts.observers.push_back(report.get());
  if (exporter) parts.observers.push_back(exporter.get());
  parts.site_weight = site_weight;
  RoundDriver driver(config, topo, parts);
  RoundMetrics last = driver.run(1, config.rounds);

  JobResult result;
  result.rounds = config.rounds;
  result.test_loss = last.test_loss;
  result.test_accuracy = last.test_accuracy;
  result.params_hash = sha256(trainer.params().data(), trainer.params().size_bytes());
  if (reporting) {
    report->finish(topo.describe(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (exporter) exporter->linger(config.monitoring.linger_s);
  return result;
}

}  // namespace fedtrain
