// The leader Transport over TCP (Boost.Asio): a full mesh of authenticated connections among N site leaders.
//
// For one job per site (each organisation runs its own mpirun or Slurm job):
// the leaders reach each other only through this transport.
//   mesh       one TCP connection per pair of leaders; the lower site index
//              dials the higher one ([site.NAME] leader = HOST:PORT), every
//              leader listens on its own `listen` (default 0.0.0.0 and the
//              port of its address) for the lower ones, and keeps listening
//              for the whole job: a lower-indexed leader that connects again
//              (it restarted) replaces its old connection (PeerStats::reconnects).
//   handshake  on every new connection, before any message: the
//              authenticated handshake of leader_handshake.h.
//   framing    kind u8 | 3 zero bytes | tag i32 LE | length u64 LE | payload.
//              Messages of one (peer, tag) are matched in the order sent, as
//              MPI does; a receive posted before its message arrives takes the
//              bytes straight into its buffer, an early message is buffered
//              (it grows with the bytes that arrive, never from the length a
//              peer announces). A length above max_message_bytes, or more
//              early bytes than max_unexpected_bytes, fail the peer.
//   progress   one I/O thread per transport runs the sockets; the caller's
//              thread only posts and waits, so sends and receives progress
//              while the caller computes (the ring's sealing overlaps).
//   timeouts   connecting retries with backoff (0.1 s doubling to 2 s) until
//              connect_timeout_s; every wait, and every handshake read, ends
//              with a PeerError when the peer it waits for moved no byte for
//              peer_timeout_s. A peer that closes or breaks its connection
//              fails its pending handles with a PeerError too.
// After a PeerError the failed peer's handles are all complete and their
// buffers free again; the other peers' handles are untouched and still own
// their buffers. Sockets: TCP_NODELAY (the protocol's small status messages
// must not wait for Nagle), and the kernel's send/receive buffer autotuning
// unless socket_buffer_bytes is set (see docs/operations.md: on Linux a fixed
// SO_RCVBUF turns autotuning off and is capped by net.core.rmem_max).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/core/error.h"
#include "runtime/crypto/manifest.h"
#include "runtime/crypto/x25519.h"

namespace fedtrain {

struct LeaderEndpoint {
  std::string site;
  std::string address;  // HOST:PORT at which the other leaders reach this one
  std::string listen;   // ADDR:PORT to bind; empty: 0.0.0.0 and the port of `address`
};

struct TcpTransportOptions {
  std::vector<LeaderEndpoint> leaders;  // index = site index = transport rank, the manifest's order
  int self = 0;
  double connect_timeout_s = 60;  // federation.connect_timeout_s
  double peer_timeout_s = 60;     // federation.peer_timeout_s: bound on every wait
  const Manifest* manifest = nullptr;  // peers' static X25519 keys and the manifest hash (must outlive connect)
  const SecretKey* secret = nullptr;   // this site's static key (must outlive connect)
  std::string settings_digest;         // optional: bound into the handshake transcript too
  size_t max_message_bytes = size_t{1} << 30;     // a longer frame fails the peer
  size_t max_unexpected_bytes = size_t{1} << 30;  // early (not yet received) bytes held per peer
  int socket_buffer_bytes = 0;                    // SO_SNDBUF/SO_RCVBUF; 0: kernel autotuning
  // At connect_timeout_s, with at least one peer connected: start anyway; the peers not reached
  // are failed and unreached() says why. For a restarted site that rejoins a federation in which
  // another site is away too (the caller decides from the peers it reached).
  bool start_without_unreached = false;
};

// A peer that failed: it sent nothing for peer_timeout_s, closed or broke its
// connection, or broke the framing. exit code 1; peer() is its transport rank,
// so that the caller can drop that site from a round.
class PeerError : public Error {
 public:
  PeerError(int peer, const std::string& what) : Error(what), peer_(peer) {}
  int peer() const { return peer_; }

 private:
  int peer_;
};

// Per peer connection, for metrics: every byte counted on the wire (frames, handshakes, pings).
struct PeerStats {
  std::string site, address;
  bool connected = false;
  uint64_t bytes_sent = 0, bytes_received = 0;
  uint64_t messages_sent = 0, messages_received = 0;  // data frames
  uint64_t reconnects = 0;    // connections that replaced an earlier one of this peer
  double last_rtt_s = -1.0;   // last round trip (handshake or ping_peers()); -1: none yet
};

class TcpTransport final : public Transport {
 public:
  // Binds, connects the mesh and runs every handshake; returns when all peers are connected (see below).
  explicit TcpTransport(const TcpTransportOptions& options);
  ~TcpTransport() override;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  int rank() const override;
  int size() const override;
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override;
  Handle irecv(int peer, int tag, std::span<uint8_t> buffer) override;
  size_t wait(Handle h) override;
  bool test(Handle h, size_t* bytes) override;
  size_t wait_any(std::span<Handle> handles, size_t* bytes) override;
  bool can_wake() const override { return true; }
  void wake() override;
  size_t wait_any_or_woken(std::span<Handle> handles, size_t* bytes) override;

  // Stats of every leader, indexed by rank (self's entry: zeros).
  std::vector<PeerStats> peer_stats() const;
  // Sends a ping to every connected peer; PeerStats::last_rtt_s is updated when the pong comes back.
  void ping_peers();
  // Fails `peer` now (its pending handles throw PeerError with `why`) and closes its connection.
  void drop(int peer, const std::string& why);
  // A higher-indexed `peer` that was lost is dialed again, every 2 s until it
  // answers or this transport closes (a restarted leader listens for the lower
  // ones); the new connection replaces the lost one. Nothing for a lower index
  // (it dials this leader itself).
  void redial(int peer);
  // Why peers were not reached at start-up (start_without_unreached); empty when all were.
  std::string unreached() const;

  struct Impl;

 private:
  // wait_any; `wakeable`: wait_any_or_woken.
  size_t wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable);
  std::unique_ptr<Impl> impl_;
};

// Binds, connects the mesh and runs every handshake; returns when all peers
// are connected. Throws Error (exit 1) naming the site and port for a listen
// port that is taken, naming the site and address for a peer not reached
// within connect_timeout_s (unless start_without_unreached and one peer was
// reached); ConfigError (exit 2) naming the site for a peer
// refused as misconfigured (another manifest, a wrong key, other settings).
std::unique_ptr<TcpTransport> connect_tcp_transport(const TcpTransportOptions& options);

}  // namespace fedtrain
