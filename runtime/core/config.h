// Run configuration: INI file plus command-line overrides, read with Boost.Program_options.
//
//   fedtrain run --config configs/quickstart.ini --federation.rounds=5 --inner.lr 0.1
//
// Every key is "section.name" (the INI section [federation] holds "rounds").
// Sites are sections of their own, [site.NAME], listed in the order world ranks
// are assigned to them. The command line wins over the file. Anything unknown
// or malformed is a ConfigError that names the key and what is allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedtrain {

enum class InnerOptimizerKind { kSgd, kAdamW };

struct InnerOptimizerConfig {
  InnerOptimizerKind kind = InnerOptimizerKind::kSgd;
  float lr = 0.05f;
  float momentum = 0.9f;  // SGD
  bool nesterov = false;  // SGD
  float weight_decay = 0.0f;
  float beta1 = 0.9f;     // AdamW
  float beta2 = 0.999f;   // AdamW
  float eps = 1e-8f;      // AdamW
};

// Outer optimizer of the federation, applied by the leaders to the averaged
// pseudo-gradient: lr 1 and momentum 0 is FedAvg; momentum with Nesterov is DiLoCo.
struct OuterOptimizerConfig {
  float lr = 1.0f;
  float momentum = 0.0f;
  bool nesterov = false;
};

// Prometheus endpoint of the site leaders (runtime/metrics/prometheus_exporter.h).
struct MonitoringConfig {
  int port = 0;                      // 0: off; the leader of site i listens on port + i
  std::string address = "0.0.0.0";  // address to bind
  double linger_s = 0.0;            // keep serving this long after the last round
};

struct SiteConfig {
  std::string name;
  int ranks = 0;          // 0: not given (sites named per process with --site)
  std::string data;       // HDF5 training shard of this site
};

struct Config {
  // [run]
  std::string job_id = "fedtrain";
  uint64_t seed = 1;
  std::string metrics_file;  // default runs/<job_id>/metrics.jsonl
  std::string log_level = "info";
  // [data]
  std::string test_file;
  int batch_size = 64;       // per rank
  // [model]
  std::vector<int> hidden = {256, 128};
  // [inner], [outer]
  InnerOptimizerConfig inner;
  OuterOptimizerConfig outer;
  // [federation]
  int rounds = 20;
  int local_steps = 50;
  // [monitoring]
  MonitoringConfig monitoring;
  // [site]
  double bucket_mib = 4.0;   // gradient all-reduce bucket size inside a site
  std::vector<SiteConfig> sites;

  // How this process names its site: from --site or FEDTRAIN_SITE (empty: by rank blocks).
  std::string process_site;
  // Test-only fault injection, "--inject KIND:key=value,..." (repeatable); each
  // subsystem reads the kinds it knows (see docs/testing.md). Empty in production.
  std::vector<std::string> inject;
  // Where the config came from, and the resolved config as INI text (for logs and checkpoints).
  std::string config_path;
  std::string resolved_text;

  int site_index(const std::string& name) const;  // -1 if absent
  // Total world size implied by [site.NAME] ranks; nullopt when any site leaves it open.
  std::optional<int> world_size() const;
};

// Parses "--config FILE", "--site NAME" and "--section.key=value" overrides.
// `env_site` is FEDTRAIN_SITE (or empty). Throws ConfigError.
Config load_config(const std::vector<std::string>& args, const std::string& env_site);

// The keys with their defaults and help, grouped by section, for --help.
std::string config_help();

}  // namespace fedtrain
