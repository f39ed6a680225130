// Everything a site leader needs to exchange updates with the other leaders.
#include "runtime/federation/leader_exchange.h"

#include "runtime/crypto/sha256.h"

#include "runtime/core/check.h"
#include "runtime/core/injection.h"
#include "runtime/core/log.h"
#include "runtime/federation/crypto_workers.h"
#include "runtime/federation/fault_injection.h"
#include "runtime/federation/secure_aggregator.h"
#include "runtime/federation/secure_setup.h"
#include "runtime/federation/settings_agreement.h"
#include "runtime/ledger/signing_manifest.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {
namespace {

int crypto_threads(const Config& config, const Topology& topo) {
  return config.exchange.crypto_threads >= 0 ? config.exchange.crypto_threads
                                             : auto_crypto_threads(topo.site_ranks_on_node());
}

}  // namespace

LeaderExchange::LeaderExchange(const Config& config, const Topology& topology) : config_(config), topo_(topology) {}
LeaderExchange::~LeaderExchange() = default;

void LeaderExchange::prepare() {
  if (auto signing = load_signing_manifest(config_)) signing_keys_sha256_ = to_hex(signing->hash);
  // One job per site: the leaders authenticate each other with the manifest's keys, also in plaintext mode.
  if (!config_.exchange.secure && !topo_.one_job_per_site()) return;
  manifest_ = std::make_unique<Manifest>(load_manifest(config_));
  key_ = std::make_unique<SecretKey>(load_site_identity(config_, *manifest_, topo_.site_index()));
  if (!config_.exchange.secure) return;
  schedule_ = std::make_unique<KeySchedule>(*manifest_, topo_.site_index(), *key_, config_.job_id);
  log_ = std::make_unique<EgressLog>(config_.sites[topo_.site_index()].egress_log);
}

std::string LeaderExchange::manifest_sha256() const {
  return manifest_ && config_.exchange.secure ? to_hex(manifest_->hash()) : "";
}

std::vector<PeerStats> LeaderExchange::peer_stats() const {
  std::vector<PeerStats> out;
  if (tcp_ == nullptr) return out;
  std::vector<PeerStats> all = tcp_->peer_stats();
  for (size_t i = 0; i < all.size(); ++i)
    if (static_cast<int>(i) != topo_.site_index()) out.push_back(all[i]);
  return out;
}

void LeaderExchange::open_leaders() {
  std::vector<std::string> sites;
  for (const auto& s : topo_.sites()) sites.push_back(s.name);
  if (!topo_.one_job_per_site()) {
    transport_ = make_mpi_transport(topo_.leaders_comm());
  } else {
    if (key_ == nullptr) return;  // prepare() failed (the site stops with its reason); the others cannot reach it
    TcpTransportOptions o;
    for (const auto& s : config_.sites) o.leaders.push_back({s.name, s.leader, s.listen});
    o.self = topo_.site_index();
    o.connect_timeout_s = config_.exchange.connect_timeout_s;
    o.peer_timeout_s = config_.exchange.peer_timeout_s;
    o.manifest = manifest_.get();
    o.secret = key_.get();
    o.start_without_unreached = true;  // a restarted site may rejoin while another is away (below)
    log_info("site " + topo_.site_name() + " connects to the other site leaders over TCP (one job per site; listening "
             "on " + (o.leaders[o.self].listen.empty() ? o.leaders[o.self].address : o.leaders[o.self].listen) + ")");
    auto tcp = connect_tcp_transport(o);
    tcp_ = tcp.get();
    transport_ = std::move(tcp);
    desk_ = std::make_unique<JoinDesk>(
        *transport_, sites, [this](int site) { return tcp_->peer_stats()[site].connected; }, log_.get());
    const std::string unreached = tcp_->unreached();
    try {
      running_round_ = desk_->exchange_status(config_.exchange.connect_timeout_s);
    } catch (const Error& e) {
      if (unreached.empty()) throw;
      throw Error(unreached + "; and then: " + e.what());
    }
    if (!unreached.empty()) {
      if (!rejoining()) throw Error(unreached);  // a federation starts with every site
      log_warn("site " + topo_.site_name() + " rejoins without the sites it did not reach (" + unreached +
               "); it takes part if the running sites count them as away too");
    }
  }
  group_ = std::make_unique<LeaderGroup>(logged(agreement_log_, "agreement"), sites, config_.exchange.peer_timeout_s);
  if (rejoining()) {
    log_info("site " + topo_.site_name() + " rejoins the running federation (it is in round " +
             std::to_string(running_round_) + "): this site starts on its own and is admitted at a round boundary");
    std::vector<bool> alone(sites.size(), false);
    alone[topo_.site_index()] = true;
    group_->set_members(alone, [](int, const std::string&) {});
  }
}

void LeaderExchange::connect() {
  FT_CHECK(transport_ != nullptr, "connect() before open_leaders()");
  std::vector<std::string> sites;
  for (const auto& s : topo_.sites()) sites.push_back(s.name);
  if (rejoining()) {  // checked against the welcome (rejoin())
    const std::string text =
        settings_text(federation_settings(config_, manifest_sha256(), signing_keys_sha256_));
    settings_ = sha256(text.data(), text.size());
    membership_ = std::make_unique<Membership>(logged(membership_log_, "membership"), sites, [this](int site, const std::string& why) {
      drop_and_redial(site, why);
    });
    return;
  }
  settings_ = agree_settings(*transport_, log_.get(), sites,
                             federation_settings(config_, manifest_sha256(), signing_keys_sha256_), &setup_bytes_);
  if (!config_.exchange.secure)
    log_warn("federation.secure = false: this site's model updates cross site borders IN CLEAR, readable by every "
             "other leader and by anyone on the network between the sites; use it only for comparison");
  Transport* t = transport_.get();
  // Empty outside test builds: --inject does not exist there (features.h).
  std::vector<Injection> injections = parse_injections(config_.inject);
  bool mine = false;
  for (const auto& in : injections) mine = mine || in.site == topo_.site_name();
  if (mine && config_.exchange.secure) {
    faulty_ = std::make_unique<FaultyTransport>(*transport_, injections, topo_.site_name());
    t = faulty_.get();
    log_warn("test-only fault injection is active on this leader (--inject)");
  }
  if (config_.exchange.secure) {
    log_info("secure aggregation: " + std::to_string(crypto_threads(config_, topo_)) +
             " crypto thread(s) beside the ring's own (" +
             (config_.exchange.crypto_threads >= 0
                  ? std::string("federation.crypto_threads")
                  : "auto: " + std::to_string(affinity_cpus()) + " CPUs in this leader's affinity mask, " +
                        std::to_string(topo_.site_ranks_on_node()) + " rank(s) of site " + topo_.site_name() +
                        " on its node") +
             ")");
    if (config_.exchange.allow_two_participants)
      log_warn("federation.allow_two_participants = true: in a round with exactly two participants each leader "
               "learns the other's update exactly (the aggregate minus its own); the masks then protect it only "
               "from the network and from third parties");
  }
  if (topo_.one_job_per_site()) {
    // Its reports are never fault-injected; a site that left is disconnected (it reconnects to rejoin).
    membership_ = std::make_unique<Membership>(logged(membership_log_, "membership"), sites, [this](int site, const std::string& why) {
      drop_and_redial(site, why);
    });
    regroup(0);
    return;
  }
  aggregator_ = make_aggregator(*t, sites, manifest_.get(), topo_.site_index(), 0);
}

std::unique_ptr<Aggregator> LeaderExchange::make_aggregator(Transport& t, const std::vector<std::string>& sites,
                                                            const Manifest* manifest, int self, int64_t round) {
  // The quorum counts the federation's sites, whoever is present.
  const int min_sites = std::min<int>(config_.exchange.min_sites, topo_.n_sites());
  if (!config_.exchange.secure) {
    std::function<uint64_t()> losses;
    if (members_) losses = [m = members_.get()] { return m->losses(); };
    return make_plain_aggregator(t, sites, min_sites, config_.exchange.max_update_norm, losses);
  }
  schedule_ = std::make_unique<KeySchedule>(*manifest, self, *key_, config_.job_id);
  SecureOptions options = secure_options(config_);
  options.settings = settings_;
  options.crypto_threads = crypto_threads(config_, topo_);
  options.session_round = round;
  return std::make_unique<SecureAggregator>(t, log_.get(), *schedule_, sites, config_.job_id, options);
}

void LeaderExchange::peer_lost(int site, const std::string& why) {
  membership_->lost(site, why);
  drop_and_redial(site, why);
}

// Nothing more of a lost site is read; it reconnects to rejoin (a lower-indexed
// one dials this leader, a higher-indexed one is dialed until it answers).
void LeaderExchange::drop_and_redial(int site, const std::string& why) {
  if (tcp_ == nullptr) return;
  tcp_->drop(site, why);
  tcp_->redial(site);
}

Welcome LeaderExchange::rejoin(size_t params) {
  Welcome w = desk_->await_welcome(params, config_.exchange.connect_timeout_s);
  if (!(w.settings == settings_))
    throw ConfigError("site " + topo_.site_name() + " cannot rejoin: its federation settings differ from those the "
                      "running sites agreed on (the settings digests differ); start it with the same config as the others");
  membership_->set_present(w.present);
  std::string names;
  for (int s : membership_->members()) names += (names.empty() ? "" : ", ") + topo_.sites()[s].name;
  log_info("site " + topo_.site_name() + " is admitted at round " + std::to_string(w.round) + " with " + names +
           "; the global model and the outer momentum received agree on every leader (sha256 " +
           to_hex(w.state).substr(0, 16) + "...)");
  for (int s = 0; s < topo_.n_sites(); ++s)
    if (!w.present[s] && tcp_ != nullptr) tcp_->redial(s);
  regroup(w.round);
  return w;
}

std::vector<bool> LeaderExchange::ready_to_join(int64_t round) {
  log_round_ = round;
  return desk_->poll(*membership_, round);
}

Transport& LeaderExchange::logged(std::unique_ptr<Transport>& slot, const char* phase) {
  if (log_ == nullptr) return *transport_;
  if (site_names_.empty())
    for (const auto& s : topo_.sites()) site_names_.push_back(s.name);
  if (slot == nullptr) slot = std::make_unique<EgressTransport>(*transport_, *log_, phase, site_names_, log_round_);
  return *slot;
}

void LeaderExchange::welcome(int site, int64_t round, const std::vector<float>& global,
                             const std::vector<float>& momentum) {
  Welcome w;
  w.round = round;
  w.present.assign(topo_.n_sites(), false);
  for (int s : membership_->members()) w.present[s] = true;
  w.settings = settings_;
  w.state = state_hash(global, momentum);
  int sponsor = -1;
  for (int s : membership_->members())
    if (s != site && sponsor < 0) sponsor = s;
  if (sponsor == topo_.site_index()) {
    w.global = global;
    w.momentum = momentum;
  }
  desk_->welcome(site, w);
}

void LeaderExchange::begin_rounds() {
  if (!membership_) return;
  std::vector<bool> present(topo_.n_sites());
  for (int s = 0; s < topo_.n_sites(); ++s) present[s] = membership_->present(s);
  group_->set_members(present, [this](int site, const std::string& why) { peer_lost(site, why); });
}

uint64_t LeaderExchange::losses() const { return retired_losses_ + (members_ ? members_->losses() : 0); }

Aggregator& LeaderExchange::regroup(int64_t round) {
  FT_CHECK(membership_ != nullptr, "regroup() with one MPI world");
  log_round_ = round;
  const std::vector<int> members = membership_->members();
  // The old aggregator uses the old transport and key schedule: it goes first.
  aggregator_.reset();
  if (members_) retired_losses_ += members_->losses();
  Transport& all = faulty_ ? static_cast<Transport&>(*faulty_) : *transport_;
  members_ = std::make_unique<MemberTransport>(all, members, [this](int site, const std::string& why) { peer_lost(site, why); });
  std::vector<std::string> sites;
  std::vector<ManifestEntry> entries;
  std::vector<bool> present(topo_.n_sites(), false);
  for (int s : members) {
    sites.push_back(topo_.sites()[s].name);
    if (manifest_) entries.push_back(manifest_->entry(s));
    present[s] = true;
  }
  if (manifest_) member_manifest_ = std::make_unique<Manifest>(entries);
  if (round > 0) group_->set_members(present, [this](int site, const std::string& why) { peer_lost(site, why); });
  aggregator_ = make_aggregator(*members_, sites, member_manifest_.get(), members_->rank(), round);
  return *aggregator_;
}

}  // namespace fedtrain
