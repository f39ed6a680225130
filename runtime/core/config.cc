// Run configuration: the key table and the INI + command-line reader.
#include "runtime/core/config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "fedtrain/features.h"
#include "runtime/core/config_checks.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/net/host_port.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

using namespace config_values;

// One configurable key: its default (as text), help, and how it lands in Config.
struct Key {
  const char* key;
  const char* default_value;
  const char* help;
  void (*apply)(Config&, const std::string& key, const std::string& value);
};

// Per-site keys, [site.NAME] name = value.
struct SiteKey {
  const char* name;
  const char* help;
  void (*apply)(SiteConfig&, const std::string& key, const std::string& value);
};

// clang-format off
const Key kKeys[] = {
  {"run.job_id", "fedtrain", "job name, used in file names and metrics",
   [](Config& c, const std::string& k, const std::string& v) { c.job_id = parse_name(k, v); }},
  {"run.seed", "1", "seed of every random choice (initialisation, shuffling)",
   [](Config& c, const std::string& k, const std::string& v) { c.seed = parse_u64(k, v); }},
  {"run.metrics_file", "", "JSON-lines metrics file, one object per round (default runs/<job_id>/metrics.jsonl)",
   [](Config& c, const std::string&, const std::string& v) { c.metrics_file = v; }},
  {"run.log_level", "info", "error, warn, info or debug",
   [](Config& c, const std::string& k, const std::string& v) {
     c.log_level = parse_choice(k, v, {"error", "warn", "info", "debug"}); }},
  {"run.device", "auto", "where each rank trains: cpu, cuda (GPU local_rank % GPUs of its node), or auto (cuda where built with CUDA and every rank of the site sees a GPU; model.kind = gpt: cpu)",
   [](Config& c, const std::string& k, const std::string& v) {
     const std::string d = parse_choice(k, v, {"auto", "cpu", "cuda"});
     c.device = d == "cpu" ? DeviceKind::kCpu : d == "cuda" ? DeviceKind::kCuda : DeviceKind::kAuto; }},
  {"data.test", "", "HDF5 test file (/features float32 [N,D], /labels int32 [N]), evaluated by the first site",
   [](Config& c, const std::string&, const std::string& v) { c.test_file = v; }},
  {"data.batch_size", "64", "samples per rank per inner step",
   [](Config& c, const std::string& k, const std::string& v) { c.batch_size = static_cast<int>(parse_int(k, v, 1, 1 << 20)); }},
  {"model.kind", "mlp", "mlp (a classifier on images) or gpt (a GPT-2 style language model on bytes)",
   [](Config& c, const std::string& k, const std::string& v) {
     c.model_kind = parse_choice(k, v, {"mlp", "gpt"}) == "mlp" ? ModelKind::kMlp : ModelKind::kGpt; }},
  {"model.layers", "4", "gpt: transformer blocks",
   [](Config& c, const std::string& k, const std::string& v) { c.layers = static_cast<int>(parse_int(k, v, 1, 256)); }},
  {"model.heads", "4", "gpt: attention heads (model.dim must be a multiple)",
   [](Config& c, const std::string& k, const std::string& v) { c.heads = static_cast<int>(parse_int(k, v, 1, 1024)); }},
  {"model.dim", "128", "gpt: model width D",
   [](Config& c, const std::string& k, const std::string& v) { c.dim = static_cast<int>(parse_int(k, v, 1, 1 << 16)); }},
  {"model.context", "128", "gpt: context length T in bytes (windows of T+1 bytes)",
   [](Config& c, const std::string& k, const std::string& v) { c.context = static_cast<int>(parse_int(k, v, 1, 1 << 16)); }},
  {"model.hidden", "256,128", "mlp: hidden layer widths, comma-separated",
   [](Config& c, const std::string& k, const std::string& v) { c.hidden = parse_int_list(k, v, 1, 1 << 16); }},
  {"inner.optimizer", "sgd", "inner optimizer of every rank: sgd or adamw",
   [](Config& c, const std::string& k, const std::string& v) {
     c.inner.kind = parse_choice(k, v, {"sgd", "adamw"}) == "sgd" ? InnerOptimizerKind::kSgd : InnerOptimizerKind::kAdamW; }},
  {"inner.lr", "0.05", "inner learning rate",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.lr = static_cast<float>(parse_double(k, v, 0, 1e3)); }},
  {"inner.schedule", "constant", "inner learning rate over the job: constant, or cosine (from inner.lr down to inner.min_lr at the last step)",
   [](Config& c, const std::string& k, const std::string& v) {
     c.inner.schedule = parse_choice(k, v, {"constant", "cosine"}) == "cosine" ? InnerSchedule::kCosine : InnerSchedule::kConstant; }},
  {"inner.warmup_steps", "0", "inner steps of linear learning-rate warm-up from 0 to inner.lr, counted from the job's first step",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.warmup_steps = parse_int(k, v, 0, int64_t{1} << 40); }},
  {"inner.min_lr", "0", "learning rate at the job's last inner step (inner.schedule = cosine)",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.min_lr = static_cast<float>(parse_double(k, v, 0, 1e3)); }},
  {"inner.momentum", "0.9", "SGD momentum",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.momentum = static_cast<float>(parse_double(k, v, 0, 1)); }},
  {"inner.nesterov", "false", "SGD with Nesterov momentum",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.nesterov = parse_bool(k, v); }},
  {"inner.weight_decay", "0", "weight decay (decoupled for AdamW, L2 for SGD)",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.weight_decay = static_cast<float>(parse_double(k, v, 0, 1)); }},
  {"inner.beta1", "0.9", "AdamW beta1",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.beta1 = static_cast<float>(parse_double(k, v, 0, 0.999999)); }},
  {"inner.beta2", "0.999", "AdamW beta2",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.beta2 = static_cast<float>(parse_double(k, v, 0, 0.999999)); }},
  {"inner.eps", "1e-8", "AdamW epsilon",
   [](Config& c, const std::string& k, const std::string& v) { c.inner.eps = static_cast<float>(parse_double(k, v, 1e-30, 1)); }},
  {"outer.lr", "1.0", "outer learning rate on the averaged pseudo-gradient (1 with momentum 0 is FedAvg)",
   [](Config& c, const std::string& k, const std::string& v) { c.outer.lr = static_cast<float>(parse_double(k, v, 0, 1e3)); }},
  {"outer.momentum", "0", "outer momentum (DiLoCo uses 0.9 with Nesterov)",
   [](Config& c, const std::string& k, const std::string& v) { c.outer.momentum = static_cast<float>(parse_double(k, v, 0, 1)); }},
  {"outer.nesterov", "false", "Nesterov outer momentum",
   [](Config& c, const std::string& k, const std::string& v) { c.outer.nesterov = parse_bool(k, v); }},
  {"federation.rounds", "20", "federation rounds",
   [](Config& c, const std::string& k, const std::string& v) { c.rounds = static_cast<int>(parse_int(k, v, 1, 1 << 30)); }},
  {"federation.local_steps", "50", "inner steps per round (H)",
   [](Config& c, const std::string& k, const std::string& v) { c.local_steps = static_cast<int>(parse_int(k, v, 1, 1 << 30)); }},
  {"federation.secure", "true", "secure aggregation between leaders (false: plaintext MPI_Allreduce, for comparison)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.secure = parse_bool(k, v); }},
  {"federation.min_sites", "2", "quorum: a round with fewer participating sites is abandoned",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.min_sites = static_cast<int>(parse_int(k, v, 1, 1 << 16)); }},
  {"federation.allow_two_participants", "false", "secure aggregation: true lets a round run with exactly 2 participants, where each leader learns the other's update (the aggregate minus its own); false abandons such rounds, and refuses a 2-site federation",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.allow_two_participants = parse_bool(k, v); }},
  {"federation.max_update_norm", "0", "a site whose update norm exceeds this sits the round out (0: no bound)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.max_update_norm = parse_double(k, v, 0, 1e30); }},
  {"federation.clip", "4", "secure aggregation: update elements are clipped to [-clip, clip]",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.clip = static_cast<float>(parse_double(k, v, 1e-6, 1e6)); }},
  {"federation.frac_bits", "24", "secure aggregation: fixed-point fraction bits (one step is 2^-frac_bits)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.frac_bits = static_cast<int>(parse_int(k, v, 1, 30)); }},
  {"federation.chunk_kib", "1024", "secure aggregation: bytes per sealed message of the ring, KiB",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.chunk_bytes = static_cast<size_t>(parse_int(k, v, 1, 1 << 20)) * 1024; }},
  {"federation.crypto_threads", "auto", "secure aggregation: worker threads a leader uses for the ring's CPU work (quantise, mask, seal, the egress log's SHA-256, open, fold, dequantise), beside its thread that drives the transport; results are the same bit for bit whatever the number. 0: all on that one thread; auto: the CPUs the leader may run on (its affinity mask) minus the ranks of its site on its node, at most 8",
   [](Config& c, const std::string& k, const std::string& v) {
     if (v == "auto") {
       c.exchange.crypto_threads = -1;
       return;
     }
     try {
       c.exchange.crypto_threads = static_cast<int>(parse_int(k, v, 0, 64));
     } catch (const ConfigError&) {
       throw ConfigError("config key '" + k + "': '" + v + "' is not valid; expected auto or an integer from 0 to 64");
     }
   }},
  {"federation.max_failed_rounds", "3", "consecutive failed exchange attempts before the job stops (exit 1)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.max_failed_rounds = static_cast<int>(parse_int(k, v, 1, 1000)); }},
  {"federation.connect_timeout_s", "120", "one job per site: seconds a leader keeps trying to reach the other leaders at start (then exit 1, naming the site and address)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.connect_timeout_s = parse_double(k, v, 0.1, 1e6); }},
  {"federation.peer_timeout_s", "300", "seconds a leader waits for another leader in an agreement (start-up checks, which also wait for the slowest site to load its data and scan its checkpoints; resume, checkpoints, the stop at a round boundary; with one job per site every wait) before it names that site and stops (exit 1)",
   [](Config& c, const std::string& k, const std::string& v) { c.exchange.peer_timeout_s = parse_double(k, v, 0.1, 1e6); }},
  {"checkpoint.every", "0", "write a checkpoint every N rounds and after the last one (0: only when stopped by SIGTERM/SIGUSR1); needs [site.NAME] checkpoint_dir",
   [](Config& c, const std::string& k, const std::string& v) { c.checkpoint_every = static_cast<int>(parse_int(k, v, 0, 1 << 30)); }},
  {"checkpoint.keep_last", "3", "newest checkpoints kept in each site's checkpoint_dir (older ones are removed)",
   [](Config& c, const std::string& k, const std::string& v) { c.checkpoint_keep_last = static_cast<int>(parse_int(k, v, 1, 1 << 20)); }},
  {"checkpoint.allow_manifest_change", "false", "resume from checkpoints written under another federation manifest (after a deliberate site key rotation; for that one run)",
   [](Config& c, const std::string& k, const std::string& v) { c.checkpoint_allow_manifest_change = parse_bool(k, v); }},
  {"monitoring.port", "0", "Prometheus endpoint on every site leader (0: off); the leader of the i-th site listed listens on port + i",
   [](Config& c, const std::string& k, const std::string& v) { c.monitoring.port = static_cast<int>(parse_int(k, v, 0, 65535)); }},
  {"monitoring.address", "0.0.0.0", "address the Prometheus endpoint binds to (an IPv4 address or host name)",
   [](Config& c, const std::string& k, const std::string& v) {
     if (v.empty() || v.find_first_of(" :/") != std::string::npos)
       throw ConfigError("config key '" + k + "' is '" + v + "'; give an IPv4 address or host name, e.g. 0.0.0.0 or 127.0.0.1");
     c.monitoring.address = v; }},
  {"monitoring.linger_s", "0", "seconds leaders keep serving after the last round, so that Prometheus scrapes the final values",
   [](Config& c, const std::string& k, const std::string& v) { c.monitoring.linger_s = parse_double(k, v, 0, 86400); }},
  {"site.bucket_mib", "4", "gradient all-reduce bucket size inside a site, MiB",
   [](Config& c, const std::string& k, const std::string& v) { c.bucket_mib = parse_double(k, v, 1.0 / 1024, 4096); }},
  {"site.collectives", "auto", "all-reduce inside a GPU site: nccl, mpi (through host memory), or auto (nccl where every rank has a GPU of its own)",
   [](Config& c, const std::string& k, const std::string& v) {
     const std::string m = parse_choice(k, v, {"auto", "nccl", "mpi"});
     c.collectives = m == "nccl" ? SiteCollectivesKind::kNccl : m == "mpi" ? SiteCollectivesKind::kMpi : SiteCollectivesKind::kAuto; }},
  {"site.collective_timeout_s", "300", "a gradient all-reduce inside a site that takes longer stops the job with an error (0: wait for ever)",
   [](Config& c, const std::string& k, const std::string& v) { c.collective_timeout_s = parse_double(k, v, 0, 1e6); }},
  {"site.blas_threads", "1", "OpenBLAS threads of every rank; set here, not by OPENBLAS_NUM_THREADS (which fedtrain overrides), because the rounding of OpenBLAS's sums depends on its thread count: one config then trains one model however it is launched",
   [](Config& c, const std::string& k, const std::string& v) { c.blas_threads = static_cast<int>(parse_int(k, v, 1, 1024)); }},
};

const SiteKey kSiteKeys[] = {
  {"ranks", "MPI ranks of this site (consecutive world ranks, in the order sites are listed)",
   [](SiteConfig& s, const std::string& k, const std::string& v) { s.ranks = static_cast<int>(parse_int(k, v, 1, 1 << 20)); }},
  {"data", "HDF5 training shard of this site (/features, /labels; or /tokens for gpt); read only by this site's ranks",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.data = v; }},
  {"val", "gpt: the site's validation text (/tokens, from 'fedtrain data text'); only its bits per byte leave the site",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.val = v; }},
  {"public_key", "the site's X25519 public key, base64 (its entry in the federation manifest)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.public_key = v; }},
  {"public_key_file", "or: a file holding that base64 key (as 'fedtrain keygen' writes NAME.pub)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.public_key_file = v; }},
  {"secret_key", "the site's secret key file (mode 0600), read only by the site's leader",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.secret_key = v; }},
  {"signing_key", "the site's Ed25519 signing key, base64 (its ledger entry in the manifest; every site or none)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_key = v; }},
  {"signing_key_file", "or: a file holding that base64 key (as 'fedtrain keygen' writes NAME.sign.pub)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_key_file = v; }},
  {"signing_secret_key", "the site's signing secret key file (mode 0600), read only by the site's leader",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_secret_key = v; }},
  {"ledger", "the site's signed ledger of rounds (default checkpoint_dir/ledger.jsonl, else runs/<job_id>/ledger-<site>.jsonl)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.ledger = v; }},
  {"egress_log", "one line per message that left the site (default runs/<job_id>/egress-<site>.jsonl)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.egress_log = v; }},
  {"checkpoint_dir", "directory of this site's checkpoints (its own volume); written by the site leader only",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.checkpoint_dir = v; }},
  {"leader", "one job per site: HOST:PORT at which the other site leaders reach this site's leader (TCP)",
   [](SiteConfig& s, const std::string& k, const std::string& v) { net::parse_host_port(v, k); s.leader = v; }},
  {"listen", "one job per site: ADDR:PORT this site's leader binds (default 0.0.0.0 and the port of 'leader')",
   [](SiteConfig& s, const std::string& k, const std::string& v) { net::parse_host_port(v, k); s.listen = v; }},
};
// clang-format on

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

[[noreturn]] void unknown_key(const std::string& key, const std::string& where) {
  std::string best;
  size_t best_d = 4;
  for (const Key& k : kKeys) {
    size_t d = edit_distance(key, k.key);
    if (d < best_d) best_d = d, best = k.key;
  }
  std::string msg = "unknown config key '" + key + "' " + where;
  if (!best.empty()) msg += "; did you mean '" + best + "'?";
  else msg += "; 'fedtrain run --help' lists the keys";
  throw ConfigError(msg);
}

const Key* find_key(const std::string& key) {
  for (const Key& k : kKeys)
    if (key == k.key) return &k;
  return nullptr;
}

// "site.NAME.KEY" -> (NAME, KEY); false if the key does not have that shape.
bool split_site_key(const std::string& key, std::string* name, std::string* sub) {
  if (key.rfind("site.", 0) != 0) return false;
  size_t dot = key.rfind('.');
  if (dot <= 5) return false;
  *name = key.substr(5, dot - 5);
  *sub = key.substr(dot + 1);
  return true;
}

// A value read from the file or the command line, in the order seen. `unset`: "--KEY=" on the
// command line, which takes back every earlier setting of KEY (its default applies again).
struct Setting {
  std::string key, value, where;
  bool unset = false;
};

// "--KEY=" with nothing after '=' stands for this value on its way through Boost, which refuses
// an empty one: no string from argv can hold it (it has a NUL).
const std::string kUnsetValue("\0unset", 6);

// Keys whose values name files or folders. A relative path means: in a config file, beside that
// file (the same config works from any working directory); on the command line or as a
// default, under the working directory. Either way Config holds it absolute.
bool is_path_key(const std::string& key) {
  std::string name, sub;
  if (key == "run.metrics_file" || key == "data.test") return true;
  if (!split_site_key(key, &name, &sub)) return false;
  for (const char* k : {"data", "val", "public_key_file", "secret_key", "signing_key_file", "signing_secret_key",
                        "ledger", "egress_log", "checkpoint_dir"})
    if (sub == k) return true;
  return false;
}

std::string absolute_path(const std::string& value, const std::filesystem::path& base) {
  if (value.empty() || std::filesystem::path(value).is_absolute()) return value;
  return (base / value).lexically_normal().string();
}

// The folder relative paths are taken against: the config file's (symbolic links resolved), or the
// working directory.
std::filesystem::path base_folder(const std::string& config_path) {
  try {
    if (config_path.empty()) return std::filesystem::current_path();
    return std::filesystem::weakly_canonical(std::filesystem::absolute(config_path)).parent_path();
  } catch (const std::filesystem::filesystem_error& e) {
    throw ConfigError(std::string("cannot resolve relative paths: ") + e.what() +
                      "; run from an existing working directory, or give absolute paths");
  }
}

class Collector {
 public:
  void add(const std::string& key, const std::string& value, const std::string& where, bool unset = false) {
    std::string name, sub;
    if (find_key(key) == nullptr) {
      if (!split_site_key(key, &name, &sub)) unknown_key(key, where);
      bool known = false;
      for (const SiteKey& s : kSiteKeys) known = known || sub == s.name;
      if (!known) {
        std::string list;
        for (const SiteKey& s : kSiteKeys) list += std::string(list.empty() ? "" : ", ") + s.name;
        throw ConfigError("unknown config key '" + key + "' " + where + "; a [site." + name + "] section takes " + list);
      }
      config_values::parse_name("site name in '" + key + "'", name);
      if (!unset && std::find(site_order_.begin(), site_order_.end(), name) == site_order_.end())
        site_order_.push_back(name);
    }
    settings_.push_back({key, value, where, unset});
  }
  const std::vector<Setting>& settings() const { return settings_; }
  const std::vector<std::string>& site_order() const { return site_order_; }

 private:
  std::vector<Setting> settings_;
  std::vector<std::string> site_order_;
};

std::string join_values(const std::vector<std::string>& values) {
  std::string v;
  for (const auto& s : values) v += (v.empty() ? "" : ",") + s;
  return v;
}

// A value from the command line, as the INI file would give it: the resolved config
// (Config::resolved_text, which checkpoints store and 'fedtrain generate' reads back) must load
// to the same settings, so what INI cannot hold is refused, not written: a line break would
// start a line of its own (a forged key or section), a '#' a comment. Outer blanks are trimmed,
// as the file's reader trims them.
std::string cli_value(const std::string& key, const std::string& value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f || c == '#')
      throw ConfigError("--" + key + " on the command line: its value holds " +
                        (c == '#' ? std::string("a '#'") : "a line break or another control character") +
                        ", which the INI form of the config cannot hold (it is printed by 'fedtrain config' and "
                        "stored in every checkpoint); give a value without it");
  }
  const size_t b = value.find_first_not_of(" \t"), e = value.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
}

// The keys that decide whether and with whom a site's update is protected.
// On the command line they could be changed by a launcher or a wrapper script
// without anyone who reads the config file noticing, so they come from the
// file unless the command line says --allow-security-overrides.
bool is_security_key(const std::string& key) {
  std::string name, sub;
  if (key == "federation.secure") return true;
  return split_site_key(key, &name, &sub) &&
         (sub == "public_key" || sub == "public_key_file" || sub == "secret_key" || sub == "signing_key" ||
          sub == "signing_key_file" || sub == "signing_secret_key");
}

// The file's settings, then the command line's, in order; an unset takes back the settings of its
// key before it.
std::vector<const Setting*> merged_settings(const Collector& from_file, const Collector& from_cli) {
  std::vector<const Setting*> merged;
  for (const Collector* from : {&from_file, &from_cli}) {
    for (const Setting& s : from->settings()) {
      if (s.unset)
        std::erase_if(merged, [&](const Setting* m) { return m->key == s.key; });
      else
        merged.push_back(&s);
    }
  }
  return merged;
}

void refuse_security_overrides(const Collector& from_cli) {
  for (const Setting& s : from_cli.settings()) {
    if (!is_security_key(s.key)) continue;
    throw ConfigError("--" + s.key + " on the command line: security settings (federation.secure, [site.NAME] "
                      "public_key, public_key_file, secret_key, signing_key, signing_key_file, signing_secret_key) "
                      "are read from the config file only, so that a "
                      "launcher or wrapper cannot change them unnoticed; edit the config file, or pass "
                      "--allow-security-overrides to allow it for this run");
  }
}

}  // namespace

bool Config::ledger_configured() const {
  for (const auto& s : sites)
    if (s.signing_key.empty() && s.signing_key_file.empty()) return false;
  return !sites.empty();
}

int Config::site_index(const std::string& name) const {
  for (size_t i = 0; i < sites.size(); ++i)
    if (sites[i].name == name) return static_cast<int>(i);
  return -1;
}

bool Config::checkpoints_configured() const {
  if (sites.empty()) return false;
  for (const auto& s : sites)
    if (s.checkpoint_dir.empty()) return false;
  return true;
}

bool Config::leaders_addressed() const {
  for (const auto& s : sites)
    if (s.leader.empty()) return false;
  return !sites.empty();
}

std::optional<int> Config::world_size() const {
  int n = 0;
  for (const auto& s : sites) {
    if (s.ranks <= 0) return std::nullopt;
    n += s.ranks;
  }
  return n;
}

namespace {

// The command line: the options of its own (--config, --site, --resume, --inject,
// --allow-security-overrides), and every --section.key=value, checked and collected.
struct CommandLine {
  std::string config_path, process_site;
  std::vector<std::string> inject;
  bool resume = false, allow_security_overrides = false;
  Collector from_cli;
};

po::options_description key_options() {
  po::options_description keys;
  for (const Key& k : kKeys) keys.add_options()(k.key, po::value<std::vector<std::string>>());
  return keys;
}

CommandLine parse_command_line(const std::vector<std::string>& args, const std::string& env_site,
                               const po::options_description& keys, const std::filesystem::path& cwd) {
  po::options_description cli;
  cli.add_options()("config", po::value<std::vector<std::string>>())("site", po::value<std::vector<std::string>>())(
      "resume", po::bool_switch())("allow-security-overrides", po::bool_switch());
#if FEDTRAIN_WITH_FAULT_INJECTION
  cli.add_options()("inject", po::value<std::vector<std::string>>());
#endif
  cli.add(keys);

  po::parsed_options cmdline(nullptr);
  try {
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    std::vector<std::string> marked = args;
    for (auto& a : marked)
      if (a.size() > 3 && a.rfind("--", 0) == 0 && a.back() == '=' && a.find('=') == a.size() - 1) a += kUnsetValue;
    cmdline = po::command_line_parser(marked).options(cli).style(style).allow_unregistered().run();
  } catch (const po::error& e) {
    throw ConfigError(std::string("command line: ") + e.what());
  }

  CommandLine cl;
  cl.process_site = env_site;
  for (const auto& opt : cmdline.options) {
    if (opt.position_key >= 0 || opt.string_key.empty()) {
      throw ConfigError("unexpected argument '" + join_values(opt.value) +
                        "'; keys are given as --section.key=value");
    }
    const bool unset = opt.value.size() == 1 && opt.value[0] == kUnsetValue;
    if (unset && (opt.string_key == "config" || opt.string_key == "site" || opt.string_key == "inject"))
      throw ConfigError("--" + opt.string_key + "= needs a value after '='");
    if (opt.string_key == "config") {
      if (!cl.config_path.empty()) throw ConfigError("--config given twice");
      cl.config_path = join_values(opt.value);
      continue;
    }
    if (opt.string_key == "site") {
      cl.process_site = join_values(opt.value);
      continue;
    }
    if (opt.string_key == "inject") {
      if (!FEDTRAIN_WITH_FAULT_INJECTION)
        throw ConfigError("--inject: fault injection is test-only and not compiled into this build (it exists in "
                          "test builds, cmake -DFEDTRAIN_BUILD_TESTS=ON, which must never be deployed)");
      cl.inject.insert(cl.inject.end(), opt.value.begin(), opt.value.end());
      continue;
    }
    if (opt.string_key == "allow-security-overrides") {
      if (!opt.value.empty() && !(opt.value.size() == 1 && opt.value[0].empty()))
        throw ConfigError("--allow-security-overrides takes no value");
      cl.allow_security_overrides = true;
      continue;
    }
    if (opt.string_key == "resume") {
      if (!opt.value.empty() && !(opt.value.size() == 1 && opt.value[0].empty()))
        throw ConfigError("--resume takes no value");
      cl.resume = true;
      continue;
    }
    if (opt.value.size() != 1) {
      throw ConfigError("command line: key '" + opt.string_key + "' needs one value, given as --" +
                        opt.string_key + "=VALUE");
    }
    if (unset) {
      cl.from_cli.add(opt.string_key, "", "on the command line", /*unset=*/true);
      continue;
    }
    const std::string checked = cli_value(opt.string_key, opt.value[0]);
    const std::string value = is_path_key(opt.string_key) ? absolute_path(checked, cwd) : checked;
    cl.from_cli.add(opt.string_key, value, "on the command line");
  }
  return cl;
}

// The config file's settings, relative paths taken beside it; none without a file.
Collector read_config_file(const std::string& config_path, const po::options_description& keys) {
  Collector from_file;
  if (config_path.empty()) return from_file;
  std::ifstream in(config_path);
  if (!in) throw ConfigError("cannot read config file '" + config_path + "': check the path given to --config");
  std::stringstream buf;
  buf << in.rdbuf();
  std::istringstream text(buf.str());
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::parse_config_file(text, keys, /*allow_unregistered=*/true);
  } catch (const po::error& e) {
    throw ConfigError("config file '" + config_path + "': " + e.what());
  }
  std::map<std::string, int> seen;
  const std::filesystem::path folder = base_folder(config_path);
  for (const auto& opt : parsed.options) {
    if (++seen[opt.string_key] > 1)
      throw ConfigError("config file '" + config_path + "': key '" + opt.string_key + "' is set more than once");
    std::string value = join_values(opt.value);
    if (is_path_key(opt.string_key)) value = absolute_path(value, folder);
    from_file.add(opt.string_key, value, "in " + config_path);
  }
  return from_file;
}

// Defaults, then the file, then the command line, into a Config (the last setting of a key wins);
// `values` gets each key's text.
Config settle(const Collector& from_file, const Collector& from_cli, const std::filesystem::path& cwd,
              std::map<std::string, std::string>& values) {
  for (const Key& k : kKeys) values[k.key] = k.default_value;
  std::vector<std::string> site_order = from_file.site_order();
  for (const auto& name : from_cli.site_order())
    if (std::find(site_order.begin(), site_order.end(), name) == site_order.end()) site_order.push_back(name);

  Config c;
  for (const auto& name : site_order) {
    SiteConfig site;
    site.name = name;
    c.sites.push_back(site);
  }
  for (const Setting* s : merged_settings(from_file, from_cli)) {
    std::string name, sub;
    if (find_key(s->key) != nullptr) {
      values[s->key] = s->value;
    } else if (split_site_key(s->key, &name, &sub)) {
      SiteConfig& site = c.sites[c.site_index(name)];
      for (const SiteKey& sk : kSiteKeys)
        if (sub == sk.name) sk.apply(site, s->key, s->value);
    }
  }
  for (const Key& k : kKeys) k.apply(c, k.key, values[k.key]);

  if (c.metrics_file.empty()) c.metrics_file = absolute_path("runs/" + c.job_id + "/metrics.jsonl", cwd);
  values["run.metrics_file"] = c.metrics_file;
  c.inner.total_steps = static_cast<int64_t>(c.rounds) * c.local_steps;
  if (c.inner.schedule == InnerSchedule::kCosine && c.inner.min_lr > c.inner.lr)
    throw ConfigError("inner.min_lr = " + std::to_string(c.inner.min_lr) + " is above inner.lr = " +
                      std::to_string(c.inner.lr) + ": the cosine schedule decays from inner.lr down to inner.min_lr");
  return c;
}

// The files each site writes, where the config leaves them to their defaults.
void fill_site_defaults(Config& c, const std::filesystem::path& cwd) {
  for (auto& s : c.sites) {
    if (s.egress_log.empty()) s.egress_log = absolute_path("runs/" + c.job_id + "/egress-" + s.name + ".jsonl", cwd);
    if (c.ledger_configured() && s.ledger.empty())
      s.ledger = s.checkpoint_dir.empty() ? absolute_path("runs/" + c.job_id + "/ledger-" + s.name + ".jsonl", cwd)
                                          : absolute_path("ledger.jsonl", s.checkpoint_dir);
  }
}

// The resolved configuration, as an INI file that reproduces this run.
std::string resolved_text(const Config& c, const std::map<std::string, std::string>& values) {
  std::ostringstream out;
  std::string section;
  for (const Key& k : kKeys) {
    std::string key = k.key;
    std::string sec = key.substr(0, key.find('.'));
    if (sec != section) out << (section.empty() ? "" : "\n") << "[" << sec << "]\n", section = sec;
    out << key.substr(key.find('.') + 1) << " = " << values.at(key) << "\n";
  }
  for (const auto& s : c.sites) {
    out << "\n[site." << s.name << "]\n";
    if (s.ranks > 0) out << "ranks = " << s.ranks << "\n";
    out << "data = " << s.data << "\n";
    if (!s.val.empty()) out << "val = " << s.val << "\n";
    if (!s.public_key.empty()) out << "public_key = " << s.public_key << "\n";
    if (!s.public_key_file.empty()) out << "public_key_file = " << s.public_key_file << "\n";
    if (!s.secret_key.empty()) out << "secret_key = " << s.secret_key << "\n";
    if (!s.signing_key.empty()) out << "signing_key = " << s.signing_key << "\n";
    if (!s.signing_key_file.empty()) out << "signing_key_file = " << s.signing_key_file << "\n";
    if (!s.signing_secret_key.empty()) out << "signing_secret_key = " << s.signing_secret_key << "\n";
    if (!s.ledger.empty()) out << "ledger = " << s.ledger << "\n";
    out << "egress_log = " << s.egress_log << "\n";
    if (!s.checkpoint_dir.empty()) out << "checkpoint_dir = " << s.checkpoint_dir << "\n";
    if (!s.leader.empty()) out << "leader = " << s.leader << "\n";
    if (!s.listen.empty()) out << "listen = " << s.listen << "\n";
  }
  return out.str();
}

}  // namespace

Config load_config(const std::vector<std::string>& args, const std::string& env_site) {
  const po::options_description keys = key_options();
  const std::filesystem::path cwd = base_folder("");
  const CommandLine cl = parse_command_line(args, env_site, keys, cwd);
  if (!cl.allow_security_overrides) refuse_security_overrides(cl.from_cli);
  const Collector from_file = read_config_file(cl.config_path, keys);
  std::map<std::string, std::string> values;
  Config c = settle(from_file, cl.from_cli, cwd, values);
  c.config_path = cl.config_path;
  c.process_site = cl.process_site;
  c.inject = cl.inject;
  c.resume = cl.resume;
  check_config(c);
  fill_site_defaults(c, cwd);
  c.resolved_text = resolved_text(c, values);
  return c;
}

std::string config_help() {
  std::ostringstream out;
  std::string section;
  for (const Key& k : kKeys) {
    std::string key = k.key;
    std::string sec = key.substr(0, key.find('.'));
    if (sec != section) out << "\n[" << sec << "]\n", section = sec;
    std::string head = "  --" + key + "=" + (k.default_value[0] ? k.default_value : "\"\"");
    out << head << std::string(head.size() < 34 ? 34 - head.size() : 1, ' ') << k.help << "\n";
  }
  out << "\n[site.NAME]   one section per site, in the order world ranks are assigned\n";
  for (const SiteKey& s : kSiteKeys) {
    std::string head = std::string("  --site.NAME.") + s.name + "=";
    out << head << std::string(head.size() < 34 ? 34 - head.size() : 1, ' ') << s.help << "\n";
  }
  return out.str();
}

}  // namespace fedtrain
