// The keys of one round attempt on one leader: a sealing key per peer and direction, a mask stream per peer.
//
// An AES-GCM context holds per-message state, so threads that seal or open at
// the same time need contexts of their own: `lanes` copies of every sealing
// key, one per thread (lane 0 for the ring's own thread and for a ring without
// crypto threads). Every lane seals and opens exactly as the others do.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/crypto/aes.h"
#include "runtime/crypto/key_schedule.h"

namespace fedtrain {

// The mask streams of one leader: one per other leader, in leader order.
struct MaskStreams {
  std::vector<int> peers;
  std::vector<std::unique_ptr<Aes256Ctr>> owned;
  std::vector<Aes256Ctr*> streams;  // streams[i] belongs to peers[i]
};

class RoundKeys {
 public:
  RoundKeys(const KeySchedule& schedule, int n_leaders, uint64_t round, uint64_t attempt, int lanes = 1);
  uint64_t round() const { return round_; }
  uint64_t attempt() const { return attempt_; }
  int lanes() const { return lanes_; }
  // One thread at a time per lane.
  Aes256Gcm& to(int peer, int lane = 0) { return *to_[index(peer, lane)]; }      // sealing self -> peer
  Aes256Gcm& from(int peer, int lane = 0) { return *from_[index(peer, lane)]; }  // opening peer -> self
  // A fresh keystream of the pair {self, peer} (the same on both sides).
  std::unique_ptr<Aes256Ctr> mask_stream(int peer) const;
  // Fresh streams with every other leader (self is the schedule's site).
  MaskStreams mask_streams() const;

 private:
  size_t index(int peer, int lane) const;

  const KeySchedule& schedule_;
  uint64_t round_, attempt_;
  int n_leaders_, lanes_;
  std::vector<std::unique_ptr<Aes256Gcm>> to_, from_;  // [lane * n_leaders + peer]
};

}  // namespace fedtrain
