// Sealed messages between this leader and the other leaders, for one round attempt.
//
// Two shapes of exchange, both in lock-step on every leader whatever
// happens (every message is sent and received even after a failure, so no
// leader waits for a message that will never come):
//   all_to_all  a small payload to every other leader (status, outcome, totals)
//   ring_step   one step of the ring: a segment to the next leader and one
//               from the previous, in chunks, sealing, sending, receiving
//               and opening overlapped; each chunk is handed on only after
//               its tag verified.
// Every message sent is recorded in the egress log. A failure does not throw:
// it is returned as text naming sender, receiver, round, phase and what
// failed, and the attempt is then failed on every leader by the outcome exchange.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/federation/egress_log.h"
#include "runtime/federation/round_keys.h"
#include "runtime/federation/sealed_message.h"

namespace fedtrain {

struct LinkStats {
  double seal_seconds = 0.0;
  double open_seconds = 0.0;
  double transfer_seconds = 0.0;  // waiting for the transport
  double log_seconds = 0.0;       // hashing and writing the egress log
  uint64_t wire_bytes = 0;        // sent
  uint64_t messages = 0;          // sent
};

class SecureLink {
 public:
  // site_names[i] is the site of leader i; `log` may be null (benchmarks without a log).
  SecureLink(Transport& transport, EgressLog* log, std::vector<std::string> site_names, uint64_t job_tag);

  int self() const { return transport_.rank(); }
  int size() const { return transport_.size(); }
  const std::string& site(int leader) const { return sites_[leader]; }
  void begin(RoundKeys& keys) { keys_ = &keys; }

  std::string all_to_all(Phase phase, std::span<const uint8_t> mine, std::vector<std::vector<uint8_t>>& theirs);

  using ChunkSink = std::function<void(size_t offset, const uint8_t* data, size_t bytes)>;
  std::string ring_step(Phase phase, uint32_t step, int to, std::span<const uint8_t> send, int from,
                        size_t recv_bytes, size_t chunk_bytes, const ChunkSink& sink);

  const LinkStats& stats() const { return stats_; }

 private:
  MessageHeader header(Phase phase, uint32_t step, int sender, int receiver, uint32_t chunk, uint32_t chunks,
                       size_t length) const;
  std::string describe(const MessageHeader& h, const std::string& what) const;
  void send(int peer, Phase phase, std::span<const uint8_t> wire, std::vector<Transport::Handle>& pending);
  // Egress log records wait here until the leader would otherwise wait for
  // the transport, or the step ends (their buffers live until then).
  bool log_one();
  void log_all();
  // Waits for a receive, logging queued messages while it is not complete.
  size_t wait_logging(Transport::Handle h);

  Transport& transport_;
  EgressLog* log_;
  std::vector<std::string> sites_;
  uint64_t job_tag_;
  RoundKeys* keys_ = nullptr;
  LinkStats stats_;
  std::vector<uint8_t> send_wire_, recv_wire_;
  struct PendingLog {
    int peer;
    Phase phase;
    std::span<const uint8_t> wire;
  };
  std::deque<PendingLog> to_log_;
};

}  // namespace fedtrain
