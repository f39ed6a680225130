// Sealed messages between this leader and the other leaders, for one round attempt.
//
// Two shapes of exchange, both in lock-step on every leader whatever
// happens (every message is sent and received even after a failure, so no
// leader waits for a message that will never come):
//   all_to_all  a small payload to every other leader (status, outcome, totals)
//   chunks      the ring's messages one at a time (send_chunk, post_chunk,
//               open_chunk), driven by encrypted_ring.cc, which overlaps
//               sealing, sending, receiving and opening; a chunk is handed
//               on only after its tag verified.
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

  // The ring's chunks. A chunk is named by its phase, the step within the
  // phase, its index and the count of chunks of that step.
  struct ChunkId {
    Phase phase;
    uint32_t step, chunk, chunks;
  };
  // Wire bytes a received chunk of at most `chunk_bytes` needs (a longer one is read and rejected).
  static size_t chunk_slot_bytes(size_t chunk_bytes);
  // `slots` buffers of chunk_slot_bytes(chunk_bytes) each for sends and as many for
  // receives, kept from call to call (no allocation, no page faults per round).
  std::pair<uint8_t*, uint8_t*> chunk_buffers(size_t slots, size_t chunk_bytes);
  // Seals `plain` into `wire` (wire_bytes(plain.size()) bytes, unchanged until the
  // handle completes), records it in the egress log, and sends it to `to`.
  Transport::Handle send_chunk(const ChunkId& id, int to, std::span<const uint8_t> plain, uint8_t* wire);
  // A receive from `from` into `slot` (chunk_slot_bytes).
  Transport::Handle post_chunk(Phase phase, int from, std::span<uint8_t> slot);
  // Opens a received chunk of `bytes` plaintext in place (at wire + wire_offset::kPayload):
  // "" or why it was rejected.
  std::string open_chunk(const ChunkId& id, int from, size_t bytes, uint8_t* wire, size_t received);
  // The transport's test, wait and wait_any, timed as transfer.
  bool arrived(Transport::Handle h, size_t* bytes);
  size_t wait(Transport::Handle h);
  size_t wait_any(std::span<Transport::Handle> handles, size_t* bytes);

  const LinkStats& stats() const { return stats_; }

 private:
  MessageHeader header(Phase phase, uint32_t step, int sender, int receiver, uint32_t chunk, uint32_t chunks,
                       size_t length) const;
  std::string describe(const MessageHeader& h, const std::string& what) const;
  // Records `wire` in the egress log, then sends it.
  Transport::Handle send(int peer, Phase phase, std::span<const uint8_t> wire);

  Transport& transport_;
  EgressLog* log_;
  std::vector<std::string> sites_;
  uint64_t job_tag_;
  RoundKeys* keys_ = nullptr;
  LinkStats stats_;
  std::vector<uint8_t> send_wire_, recv_wire_;
};

}  // namespace fedtrain
