// The key table of the configuration (config_keys.h).
#include "runtime/core/config_keys.h"

#include <algorithm>
#include <vector>

#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/net/host_port.h"

namespace fedtrain::config_keys {
namespace {

using namespace config_values;

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
  {"ranks", kPlain, "MPI ranks of this site (consecutive world ranks, in the order sites are listed)",
   [](SiteConfig& s, const std::string& k, const std::string& v) { s.ranks = static_cast<int>(parse_int(k, v, 1, 1 << 20)); }},
  {"data", kPath, "HDF5 training shard of this site (/features, /labels; or /tokens for gpt); read only by this site's ranks",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.data = v; }},
  {"val", kPath, "gpt: the site's validation text (/tokens, from 'fedtrain data text'); only its bits per byte leave the site",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.val = v; }},
  {"public_key", kSecurity, "the site's X25519 public key, base64 (its entry in the federation manifest)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.public_key = v; }},
  {"public_key_file", kPath | kSecurity, "or: a file holding that base64 key (as 'fedtrain keygen' writes NAME.pub)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.public_key_file = v; }},
  {"secret_key", kPath | kSecurity, "the site's secret key file (mode 0600), read only by the site's leader",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.secret_key = v; }},
  {"signing_key", kSecurity, "the site's Ed25519 signing key, base64 (its ledger entry in the manifest; every site or none)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_key = v; }},
  {"signing_key_file", kPath | kSecurity, "or: a file holding that base64 key (as 'fedtrain keygen' writes NAME.sign.pub)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_key_file = v; }},
  {"signing_secret_key", kPath | kSecurity, "the site's signing secret key file (mode 0600), read only by the site's leader",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.signing_secret_key = v; }},
  {"ledger", kPath, "the site's signed ledger of rounds (default checkpoint_dir/ledger.jsonl, else runs/<job_id>/ledger-<site>.jsonl)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.ledger = v; }},
  {"egress_log", kPath, "one line per message that left the site (default runs/<job_id>/egress-<site>.jsonl)",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.egress_log = v; }},
  {"checkpoint_dir", kPath, "directory of this site's checkpoints (its own volume); written by the site leader only",
   [](SiteConfig& s, const std::string&, const std::string& v) { s.checkpoint_dir = v; }},
  {"leader", kPlain, "one job per site: HOST:PORT at which the other site leaders reach this site's leader (TCP)",
   [](SiteConfig& s, const std::string& k, const std::string& v) { net::parse_host_port(v, k); s.leader = v; }},
  {"listen", kPlain, "one job per site: ADDR:PORT this site's leader binds (default 0.0.0.0 and the port of 'leader')",
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

}  // namespace

std::span<const Key> keys() { return kKeys; }
std::span<const SiteKey> site_keys() { return kSiteKeys; }

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

bool split_site_key(const std::string& key, std::string* name, std::string* sub) {
  if (key.rfind("site.", 0) != 0) return false;
  size_t dot = key.rfind('.');
  if (dot <= 5) return false;
  *name = key.substr(5, dot - 5);
  *sub = key.substr(dot + 1);
  return true;
}

const SiteKey* find_site_key(const std::string& sub) {
  for (const SiteKey& s : kSiteKeys)
    if (sub == s.name) return &s;
  return nullptr;
}

bool is_path_key(const std::string& key) {
  std::string name, sub;
  if (key == "run.metrics_file" || key == "data.test") return true;
  const SiteKey* k = split_site_key(key, &name, &sub) ? find_site_key(sub) : nullptr;
  return k != nullptr && (k->flags & kPath) != 0;
}

bool is_security_key(const std::string& key) {
  std::string name, sub;
  if (key == "federation.secure") return true;
  const SiteKey* k = split_site_key(key, &name, &sub) ? find_site_key(sub) : nullptr;
  return k != nullptr && (k->flags & kSecurity) != 0;
}

std::string security_keys_text() {
  std::string out = "federation.secure, [site.NAME]";
  const char* sep = " ";
  for (const SiteKey& k : kSiteKeys) {
    if ((k.flags & kSecurity) == 0) continue;
    out += sep + std::string(k.name);
    sep = ", ";
  }
  return out;
}

}  // namespace fedtrain::config_keys
