// Run configuration: INI file plus command-line overrides, read with Boost.Program_options.
//
//   fedtrain run --config configs/quickstart.ini --federation.rounds=5 --inner.lr 0.1
//
// Every key is "section.name" (the INI section [federation] holds "rounds").
// Sites are sections of their own, [site.NAME], listed in the order world ranks
// are assigned to them. The command line wins over the file; "--KEY=" with
// nothing after '=' unsets KEY (its default, or no value, applies again).
// Relative paths (data, test, keys, logs, checkpoint folders) in the file are
// taken beside the file, on the command line and in defaults under the working
// directory; Config holds them absolute. Anything unknown or malformed is a
// ConfigError that names the key and what is allowed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fedtrain {

enum class InnerOptimizerKind { kSgd, kAdamW };

// model.kind: an MLP classifier on images, or a GPT language model on bytes.
enum class ModelKind { kMlp, kGpt };

// Where a rank trains (run.device): auto is cuda where the build has CUDA and
// every rank of the site sees a GPU, else cpu (see runtime/site/device_plan.h).
enum class DeviceKind { kAuto, kCpu, kCuda };
// How a GPU site all-reduces (site.collectives): auto is nccl where every rank
// of the site has a GPU of its own, else mpi through host memory.
enum class SiteCollectivesKind { kAuto, kNccl, kMpi };

// The inner learning rate over the job's steps: constant, or (as DiLoCo's inner AdamW has it) a cosine
// decay from lr to min_lr over all rounds x local_steps; either after warmup_steps of linear warm-up.
enum class InnerSchedule { kConstant, kCosine };

struct InnerOptimizerConfig {
  InnerOptimizerKind kind = InnerOptimizerKind::kSgd;
  float lr = 0.05f;
  InnerSchedule schedule = InnerSchedule::kConstant;
  int64_t warmup_steps = 0;
  float min_lr = 0.0f;      // cosine: the rate at the last step
  int64_t total_steps = 0;  // federation.rounds x local_steps, set by the parser
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
  std::string data;       // HDF5 training shard of this site (images, or /tokens text)
  std::string val;        // model.kind = gpt: the site's validation text (/tokens), evaluated by the site
  // Secure aggregation: the site's entry in the federation manifest (its
  // X25519 public key, inline base64 or a file), the secret key file read
  // only by this site's leader, and the site's egress log.
  std::string public_key;
  std::string public_key_file;
  std::string secret_key;
  // The ledger of rounds (runtime/ledger/): the site's Ed25519 public key
  // (inline base64 or a file; every site has one, or none and the ledger is
  // off), its secret key file read only by the site's leader, and the
  // ledger's path (default checkpoint_dir/ledger.jsonl, else runs/<job_id>/ledger-<site>.jsonl).
  std::string signing_key;
  std::string signing_key_file;
  std::string signing_secret_key;
  std::string ledger;
  std::string egress_log;  // default runs/<job_id>/egress-<site>.jsonl
  std::string checkpoint_dir;  // this site's checkpoint volume (empty: no checkpoints)
  // One job per site: HOST:PORT at which the other leaders reach this site's
  // leader, and the ADDR:PORT it binds (empty: 0.0.0.0 and the port of `leader`).
  std::string leader;
  std::string listen;
};

// [federation] keys of the exchange between the site leaders.
struct ExchangeConfig {
  bool secure = true;          // false: plaintext MPI_Allreduce (comparison only)
  int min_sites = 2;           // quorum: fewer participants abandon the round
  // Secure mode: with exactly two participants each learns the other's update
  // (sum minus own). false: such rounds are abandoned, 2-site jobs refused.
  bool allow_two_participants = false;
  double max_update_norm = 0;  // 0: no bound
  float clip = 4.0f;           // fixed point: |delta| clipped to this
  int frac_bits = 24;          // fixed point: one step is 2^-frac_bits
  size_t chunk_bytes = size_t{1} << 20;
  int crypto_threads = -1;     // leader's worker threads for the secure ring's CPU work; -1: auto (crypto_workers.h)
  int max_failed_rounds = 3;   // consecutive failed attempts before the job stops
  double connect_timeout_s = 120;  // one job per site: how long a leader keeps dialling the others
  double peer_timeout_s = 300;     // every wait of a leader for another leader in an agreement
};

struct Config {
  // [run]
  std::string job_id = "fedtrain";
  uint64_t seed = 1;
  std::string metrics_file;  // default runs/<job_id>/metrics.jsonl
  std::string log_level = "info";
  DeviceKind device = DeviceKind::kAuto;
  // [data]
  std::string test_file;
  int batch_size = 64;       // per rank
  // [model]
  ModelKind model_kind = ModelKind::kMlp;
  std::vector<int> hidden = {256, 128};  // mlp
  int layers = 4;                         // gpt
  int heads = 4;                          // gpt
  int dim = 128;                          // gpt: D
  int context = 128;                      // gpt: T, bytes per window
  // [inner], [outer]
  InnerOptimizerConfig inner;
  OuterOptimizerConfig outer;
  // [federation]
  int rounds = 20;
  int local_steps = 50;
  ExchangeConfig exchange;
  // [checkpoint]
  int checkpoint_every = 0;      // rounds between checkpoints; 0: only on a stop request
  int checkpoint_keep_last = 3;  // newest checkpoints kept per site
  bool checkpoint_allow_manifest_change = false;  // resume across a federation manifest change (a key rotation)
  // [monitoring]
  MonitoringConfig monitoring;
  // [site]
  double bucket_mib = 4.0;   // gradient all-reduce bucket size inside a site
  int blas_threads = 1;      // OpenBLAS threads per rank (OPENBLAS_NUM_THREADS is overridden: see blas_core.h)
  SiteCollectivesKind collectives = SiteCollectivesKind::kAuto;
  double collective_timeout_s = 300.0;  // 0: no watchdog
  std::vector<SiteConfig> sites;

  // --resume: the run must continue from a checkpoint (without it, a run
  // resumes by itself when its checkpoint directories hold checkpoints).
  bool resume = false;

  // How this process names its site: from --site or FEDTRAIN_SITE (empty: by rank blocks).
  std::string process_site;
  // Test-only fault injection, "--inject KIND:key=value,..." (repeatable); each
  // subsystem reads the kinds it knows (see docs/testing.md). Empty in production.
  std::vector<std::string> inject;
  // Where the config came from, and the resolved config as INI text (for logs and checkpoints).
  std::string config_path;
  std::string resolved_text;

  int site_index(const std::string& name) const;  // -1 if absent
  // Every site lists a signing key ([site.NAME] signing_key or signing_key_file): the ledger is on.
  bool ledger_configured() const;
  // Every site has a checkpoint_dir (checkpoints are all or nothing).
  bool checkpoints_configured() const;
  // Total world size implied by [site.NAME] ranks; nullopt when any site leaves it open.
  std::optional<int> world_size() const;
  // Every site has a leader address: a job started with --site NAME whose MPI
  // world holds only that site's ranks runs as one job per site (topology.h).
  bool leaders_addressed() const;
};

// Parses "--config FILE", "--site NAME", "--resume", "--inject SPEC", "--allow-security-overrides" and
// "--section.key=value" overrides. Security keys (federation.secure, [site.NAME] public_key,
// public_key_file, secret_key, signing_key, signing_key_file, signing_secret_key) are refused on the command line without --allow-security-overrides.
// A command-line value is trimmed like a file's, and one with a '#', a line break or another control
// character is refused: Config::resolved_text, the INI form, could not hold it.
// `env_site` is FEDTRAIN_SITE (or empty). Throws ConfigError.
Config load_config(const std::vector<std::string>& args, const std::string& env_site);

// The keys with their defaults and help, grouped by section, for --help.
std::string config_help();

}  // namespace fedtrain
