// The cross-key checks of a loaded config: what no single key can be wrong about alone.
#include "runtime/core/config_checks.h"

#include <string>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// Every site has training data and a rank count (or each process names its site), the site a
// process names exists, and the leaders' monitoring ports fit.
void check_sites(const Config& c) {
  if (c.sites.empty())
    throw ConfigError("no sites configured: add one [site.NAME] section per site with 'ranks' and 'data'");
  for (const auto& s : c.sites) {
    if (s.data.empty())
      throw ConfigError("site '" + s.name + "' has no training data: set [site." + s.name + "] data = PATH.h5");
    if (s.ranks == 0 && c.process_site.empty())
      throw ConfigError("site '" + s.name + "' has no rank count: set [site." + s.name +
                        "] ranks = N, or name each process's site with --site NAME or FEDTRAIN_SITE");
  }
  if (!c.process_site.empty() && c.site_index(c.process_site) < 0) {
    std::string list;
    for (const auto& s : c.sites) list += (list.empty() ? "" : ", ") + s.name;
    throw ConfigError("--site/FEDTRAIN_SITE names site '" + c.process_site + "', which is not configured; sites: " + list);
  }
  if (c.monitoring.port > 0 && c.monitoring.port + static_cast<int>(c.sites.size()) - 1 > 65535)
    throw ConfigError("monitoring.port = " + std::to_string(c.monitoring.port) + ": the leaders of " +
                      std::to_string(c.sites.size()) + " sites listen on port + site index, beyond 65535; choose a lower port");
}

// What each model kind needs: mlp a test file, gpt a validation text per site and D divisible by H.
void check_model_config(Config& c) {
  if (c.model_kind == ModelKind::kMlp) {
    if (c.test_file.empty()) throw ConfigError("config key 'data.test' is not set: give the HDF5 test file");
    return;
  }
  if (c.dim % c.heads != 0)
    throw ConfigError("model.dim = " + std::to_string(c.dim) + " is not divisible by model.heads = " +
                      std::to_string(c.heads) + ": every head takes model.dim / model.heads channels; choose a "
                      "model.dim that is a multiple of model.heads");
  for (const auto& s : c.sites)
    if (s.val.empty())
      throw ConfigError("site '" + s.name + "' has no validation text: model.kind = gpt evaluates every site on its "
                        "own text; set [site." + s.name + "] val = PATH (val-LANG.h5 from 'fedtrain data text')");
  // auto: the CPU. The GPT's GPU path (cuda_gpt.h) has not yet run on a GPU (docs/gpu.md), so a site
  // takes it only when asked: run.device = cuda.
  if (c.device == DeviceKind::kAuto) c.device = DeviceKind::kCpu;
}

// Signing keys: every site or none; each site's exactly once, with its secret key file.
void check_ledger_config(const Config& c) {
  size_t with_key = 0;
  for (const auto& s : c.sites) with_key += !s.signing_key.empty() || !s.signing_key_file.empty();
  if (with_key == 0) return;
  for (const auto& s : c.sites) {
    if (s.signing_key.empty() && s.signing_key_file.empty())
      throw ConfigError("site '" + s.name + "' has no signing key while other sites have one: the ledger of rounds is "
                        "signed by every site or by none; set [site." + s.name + "] signing_key_file = PATH (NAME.sign.pub "
                        "from 'fedtrain keygen --site " + s.name + " --out DIR'), or remove every site's signing_key");
    if (!s.signing_key.empty() && !s.signing_key_file.empty())
      throw ConfigError("site '" + s.name + "' sets both [site." + s.name + "] signing_key and signing_key_file: give one");
    if (s.signing_secret_key.empty())
      throw ConfigError("site '" + s.name + "' has no signing secret key file: set [site." + s.name +
                        "] signing_secret_key = PATH (NAME.sign.key, read only by that site's leader)");
  }
}

// [site.NAME] leader for all sites or none; with them, the keys the leaders authenticate with.
void check_leader_addresses(const Config& c) {
  int addressed = 0;
  for (const auto& s : c.sites) {
    addressed += !s.leader.empty();
    if (!s.listen.empty() && s.leader.empty())
      throw ConfigError("site '" + s.name + "' has listen = " + s.listen + " but no leader address: set [site." + s.name +
                        "] leader = HOST:PORT (where the other leaders reach it), or remove listen");
  }
  if (addressed == 0) return;
  for (const auto& s : c.sites) {
    if (s.leader.empty())
      throw ConfigError("site '" + s.name + "' has no leader address while other sites have one: one job per site needs "
                        "[site." + s.name + "] leader = HOST:PORT for every site (the same list in every site's config)");
    if (s.public_key.empty() == s.public_key_file.empty() || s.secret_key.empty())
      throw ConfigError("site '" + s.name + "' needs public_key (or public_key_file) and secret_key: with [site.NAME] "
                        "leader addresses the leaders authenticate each other with the manifest's keys, also with "
                        "federation.secure = false (create them with 'fedtrain keygen --site " + s.name + " --out DIR')");
    for (const auto& t : c.sites)
      if (&t != &s && t.leader == s.leader)
        throw ConfigError("sites '" + s.name + "' and '" + t.name + "' share leader address " + s.leader +
                          ": every site's leader needs an address of its own");
  }
}

// Secure aggregation: every site's keys, and a quorum whose aggregate hides each update.
void check_secure_config(const Config& c) {
  if (!c.exchange.secure) return;
  for (const auto& s : c.sites) {
    if (s.public_key.empty() == s.public_key_file.empty())
      throw ConfigError("site '" + s.name + "' needs exactly one of [site." + s.name + "] public_key or public_key_file "
                        "for secure aggregation (create keys with 'fedtrain keygen --site " + s.name +
                        " --out DIR'), or set federation.secure = false");
    if (s.secret_key.empty())
      throw ConfigError("site '" + s.name + "' has no secret key file: set [site." + s.name +
                        "] secret_key = PATH (read only by that site's leader)");
  }
  if (c.sites.size() == 2 && !c.exchange.allow_two_participants)
    throw ConfigError("2 sites with secure aggregation: in every round each leader can compute the other site's "
                      "update exactly (the aggregate minus its own), so the masks protect the updates only from "
                      "the network and third parties. Add a third site, or acknowledge this with "
                      "federation.allow_two_participants = true");
  if (c.sites.size() > 1 && c.exchange.min_sites < 2)
    throw ConfigError("config key 'federation.min_sites' = " + std::to_string(c.exchange.min_sites) +
                      " with secure aggregation: the aggregate of one site is that site's update, so at least 2 "
                      "sites must take part; set federation.min_sites >= 2");
}

// Checkpoint folders: every site's own, for every site or none, and present where they are needed.
void check_checkpoint_config(const Config& c) {
  size_t with_dir = 0;
  for (const auto& s : c.sites) {
    if (s.checkpoint_dir.empty()) continue;
    ++with_dir;
    for (const auto& t : c.sites)
      if (&t != &s && t.checkpoint_dir == s.checkpoint_dir)
        throw ConfigError("sites '" + s.name + "' and '" + t.name + "' share checkpoint_dir '" + s.checkpoint_dir +
                          "': every site needs a directory of its own");
  }
  for (const auto& s : c.sites) {
    if (!s.checkpoint_dir.empty()) continue;
    if (c.checkpoint_every > 0)
      throw ConfigError("checkpoint.every = " + std::to_string(c.checkpoint_every) + " but site '" + s.name +
                        "' has no checkpoint directory: set [site." + s.name +
                        "] checkpoint_dir = PATH (a volume of that site), or checkpoint.every = 0");
    if (with_dir > 0)
      throw ConfigError("site '" + s.name + "' has no checkpoint_dir while other sites have one: checkpoints are "
                        "written by every site or by none; set [site." + s.name + "] checkpoint_dir = PATH");
    if (c.resume)
      throw ConfigError("--resume needs checkpoints, but no site has a checkpoint_dir: set [site." + s.name +
                        "] checkpoint_dir = PATH for every site");
  }

}

}  // namespace

void check_config(Config& c) {
  check_sites(c);
  check_model_config(c);
  check_leader_addresses(c);
  if (c.device == DeviceKind::kCpu && c.collectives == SiteCollectivesKind::kNccl)
    throw ConfigError("site.collectives = nccl needs GPUs, but run.device = cpu: set run.device = cuda (or auto), "
                      "or site.collectives = mpi");
  check_secure_config(c);
  check_ledger_config(c);
  check_checkpoint_config(c);
}

}  // namespace fedtrain
