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
// Every message is recorded in the egress log before it is handed to the
// transport: seal chunk k, hash and record it, send it; chunk k+1 is sealed
// and hashed while chunk k is in flight. After the round totals (the last
// exchange of a round, round_driver.h step 9) the log is fsynced.
// A failure does not throw: it is returned as text naming sender, receiver,
// round, phase and what failed, and the attempt is then failed on every
// leader by the outcome exchange. A message that did not open reaches no
// caller: its bytes are zeroed (open_message), and the ring is handed only
// verified chunks.
#pragma once

#include <cstdint>
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
  double log_seconds = 0.0;       // hashing, writing and fsyncing the egress log
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
  // Records `wire` in the egress log, then sends it.
  void send(int peer, Phase phase, std::span<const uint8_t> wire, std::vector<Transport::Handle>& pending);
  size_t wait(Transport::Handle h);

  Transport& transport_;
  EgressLog* log_;
  std::vector<std::string> sites_;
  uint64_t job_tag_;
  RoundKeys* keys_ = nullptr;
  LinkStats stats_;
  std::vector<uint8_t> send_wire_, recv_wire_;
};

}  // namespace fedtrain
