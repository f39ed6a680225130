// A restarted site rejoins a running federation (one job per site) at a round boundary.
//
// Messages on tag kJoinTag over the leader transport, in clear (flags, a round
// number, digests and the global model, never an update):
//   status   right after connecting, every leader sends every other one
//            kStarting and reads one status back from each: kStarting from
//            all is an ordinary start; kRunning (with the round it is in) from
//            a leader that trains already means this site rejoins: its
//            start-up agreements stay inside the site, its settings are
//            checked against the welcome's digest instead
//   ready    the rejoiner, once its trainer stands (its own inner state from
//            its newest checkpoint, or fresh), sends kReady to every peer
//   admit    each present leader (JoinDesk, polled at every round boundary)
//            answers a kStarting from a site that is not present with
//            kRunning and reports a site whose kReady arrived in the next
//            membership agreement (membership.h); a site every present
//            leader reports ready is admitted by all at that boundary
//   welcome  every present leader sends the rejoiner a kWelcome: the round it
//            joins at, the present sites (itself included), the settings
//            digest and the SHA-256 of theta_global and the outer momentum;
//            the lowest-indexed present leader adds both vectors. The
//            rejoiner takes them only if every welcome names the same round,
//            sites and hashes, and the vectors hash to it; then everybody
//            regroups (a new session over the new membership) and the
//            rejoiner trains from that round on
// The rejoiner waits for statuses and welcomes at most
// federation.connect_timeout_s (the others answer at their next round boundary).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {

class Membership;
class EgressLog;

inline constexpr int kJoinTag = 51;

enum class JoinKind : uint8_t { kStarting = 1, kRunning = 2, kReady = 3, kWelcome = 4 };

struct Welcome {
  int64_t round = 0;            // the first round the rejoiner takes part in
  std::vector<bool> present;    // the sites present from that round on (the rejoiner included)
  Sha256Digest settings{};      // the federation's settings digest (settings_agreement.h)
  Sha256Digest state{};         // SHA-256 of theta_global then the outer momentum (floats)
  std::vector<float> global, momentum;  // from the lowest-indexed present leader only
};

std::vector<uint8_t> encode_status(JoinKind kind, int64_t round = 0);
std::vector<uint8_t> encode_welcome(const Welcome& w);
// "" and `out`, or what is wrong with the bytes.
std::string decode_welcome(const uint8_t* bytes, size_t size, size_t sites, Welcome* out);
Sha256Digest state_hash(const std::vector<float>& global, const std::vector<float>& momentum);

// The join messages of one leader (every receive buffer lives here, as long as the
// transport: a receive posted to a site that is not present may stay pending).
class JoinDesk {
 public:
  // `connected(site)`: whether the transport holds a live connection to it.
  JoinDesk(Transport& all, std::vector<std::string> sites, std::function<bool(int)> connected, EgressLog* log);

  // Every leader at start: the status exchange. Returns 0 (every peer starts
  // too) or the round a running peer is in (this site rejoins). Throws Error
  // naming the peer when a status does not come within `timeout_s`.
  int64_t exchange_status(double timeout_s);
  // Rejoiner: kReady to every peer, then every present leader's welcome,
  // checked as above (Error naming the site that differs); `params`: the
  // model's parameter count. Bounded by `timeout_s`.
  Welcome await_welcome(size_t params, double timeout_s);

  // Running leader, at a round boundary (`round` about to be exchanged): reads
  // what absent sites sent, answers their kStarting; returns per site whether its kReady is in.
  std::vector<bool> poll(const Membership& members, int64_t round);
  // The welcome to an admitted site (the others' part of the exchange is the regroup that follows).
  void welcome(int site, const Welcome& w);

 private:
  // The welcome in in_[p] once its receive completed with `size` bytes.
  Welcome read_welcome(int p, size_t size) const;

  Transport& all_;
  std::vector<std::string> sites_;
  std::function<bool(int)> connected_;
  EgressLog* log_;
  std::vector<Transport::Handle> recv_;
  std::vector<std::vector<uint8_t>> in_;
  std::vector<bool> ready_;
};

}  // namespace fedtrain
