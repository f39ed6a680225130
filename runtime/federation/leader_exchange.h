// Everything a site leader needs to exchange updates with the other leaders, built from the config.
//
// Built in steps so that start-up failures are agreed by every rank before
// any update crosses a site border:
//   prepare()      local: the manifest, this site's secret key (checked against
//                  it), the egress log, the digest of the manifest's signing
//                  keys. Throws ConfigError for key problems.
//   open_leaders() the leader Transport and the LeaderGroup the start-up
//                  agreements run over: MPI over leaders_comm when the sites
//                  share one MPI world, TCP (runtime/net/) with one job per
//                  site, which connects to every other leader here (bounded
//                  by federation.connect_timeout_s).
//   connect()      collective over the leaders: the settings every site
//                  must share (settings_agreement.h; a difference throws a
//                  collective ConfigError), session id, aggregator.
// One job per site, while training: begin_rounds() makes the leaders' group
// tolerate lost peers, and regroup() rebuilds the aggregator (a new session,
// new keys) over the leaders still present (membership.h) whenever that set
// changes: a MemberTransport over the TCP transport, the present sites'
// entries of the manifest for the key schedule.
#pragma once

#include <memory>
#include <optional>

#include "runtime/collectives/leader_group.h"
#include "runtime/collectives/transport.h"
#include "runtime/core/config.h"
#include "runtime/crypto/key_schedule.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/egress_log.h"
#include "runtime/federation/egress_transport.h"
#include "runtime/federation/member_transport.h"
#include "runtime/federation/membership.h"
#include "runtime/federation/rejoin.h"
#include "runtime/net/tcp_transport.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

class LeaderExchange {
 public:
  LeaderExchange(const Config& config, const Topology& topology);
  ~LeaderExchange();
  void prepare();
  void open_leaders();
  void connect();
  // The leaders' group, once open_leaders() succeeded (nullptr before).
  LeaderGroup* leaders() { return group_.get(); }
  Aggregator& aggregator() { return *aggregator_; }
  // SHA-256 of the federation manifest, hex; "" in plaintext mode.
  std::string manifest_sha256() const;
  // The TCP transport's statistics of every other leader (one job per site); empty over MPI.
  std::vector<PeerStats> peer_stats() const;
  // Bytes this leader sent before the aggregator existed (the settings agreement).
  uint64_t setup_bytes() const { return setup_bytes_; }

  // One job per site: who is present (nullptr in one MPI world).
  Membership* membership() { return membership_.get(); }
  // One job per site, before the first round: lost peers no longer fail the leaders' group.
  void begin_rounds();
  // One job per site, collective over membership()->members(): the aggregator
  // over them, from round `round` on. The previous aggregator is gone.
  Aggregator& regroup(int64_t round);
  // Peers lost so far through the current aggregator's transport.
  uint64_t losses() const;

  // One job per site, after open_leaders(): the federation already trains (a
  // running leader answered the status exchange, rejoin.h), so this site
  // rejoins: its start-up agreements stay inside the site and connect() checks
  // its settings against the welcome instead of agreeing on them.
  bool rejoining() const { return running_round_ > 0; }
  // Rejoiner, once its trainer stands: waits to be admitted (kReady, then the
  // welcomes), checks the welcome's settings digest against this site's
  // (ConfigError), takes its membership and regroups from its round. Returns it.
  Welcome rejoin(size_t params);
  // Running leader at a round boundary: which absent sites are ready to rejoin.
  std::vector<bool> ready_to_join(int64_t round);
  // Running leader: the welcome to `site`, admitted at `round`.
  void welcome(int site, int64_t round, const std::vector<float>& global, const std::vector<float>& momentum);

 private:
  // The aggregator over `t` for the sites `sites` (secure: keys from `manifest`, in which this site is `self`).
  std::unique_ptr<Aggregator> make_aggregator(Transport& t, const std::vector<std::string>& sites,
                                              const Manifest* manifest, int self, int64_t round);
  void peer_lost(int site, const std::string& why);
  void drop_and_redial(int site, const std::string& why);
  // The transport the leaders' group (or the membership) sends through: transport_, logged when there is a log.
  Transport& logged(std::unique_ptr<Transport>& slot, const char* phase);

  const Config& config_;
  const Topology& topo_;
  std::unique_ptr<Manifest> manifest_;
  std::unique_ptr<SecretKey> key_;  // one job per site, or secure mode
  std::unique_ptr<KeySchedule> schedule_;
  std::unique_ptr<EgressLog> log_;
  std::unique_ptr<JoinDesk> desk_;  // before transport_: its buffers outlive the transport's pending receives
  int64_t running_round_ = 0;        // the round a running peer was in at start (0: an ordinary start)
  std::unique_ptr<Transport> transport_, faulty_;
  TcpTransport* tcp_ = nullptr;  // transport_, when the leaders meet over TCP
  // With an egress log: the leaders' agreements and membership reports are
  // recorded as they leave (egress_transport.h), under the round last seen.
  std::vector<std::string> site_names_;
  int64_t log_round_ = 0;
  std::unique_ptr<Transport> agreement_log_, membership_log_;
  std::unique_ptr<LeaderGroup> group_;
  std::unique_ptr<Aggregator> aggregator_;
  Sha256Digest settings_{};               // agreed in connect()
  std::unique_ptr<Membership> membership_;  // one job per site
  std::unique_ptr<MemberTransport> members_;
  std::unique_ptr<Manifest> member_manifest_;
  uint64_t retired_losses_ = 0;
  uint64_t setup_bytes_ = 0;
  std::string signing_keys_sha256_;  // hex; "" without signing keys (no ledger)
};

}  // namespace fedtrain
