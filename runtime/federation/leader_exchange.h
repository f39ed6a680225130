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
#pragma once

#include <memory>
#include <optional>

#include "runtime/collectives/leader_group.h"
#include "runtime/collectives/transport.h"
#include "runtime/core/config.h"
#include "runtime/crypto/key_schedule.h"
#include "runtime/federation/aggregator.h"
#include "runtime/federation/egress_log.h"
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

 private:
  const Config& config_;
  const Topology& topo_;
  std::unique_ptr<Manifest> manifest_;
  std::unique_ptr<SecretKey> key_;  // one job per site, or secure mode
  std::unique_ptr<KeySchedule> schedule_;
  std::unique_ptr<EgressLog> log_;
  std::unique_ptr<Transport> transport_, faulty_;
  TcpTransport* tcp_ = nullptr;  // transport_, when the leaders meet over TCP
  std::unique_ptr<LeaderGroup> group_;
  std::unique_ptr<Aggregator> aggregator_;
  uint64_t setup_bytes_ = 0;
  std::string signing_keys_sha256_;  // hex; "" without signing keys (no ledger)
};

}  // namespace fedtrain
