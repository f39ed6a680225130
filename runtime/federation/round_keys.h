// The keys of one round attempt on one leader: a sealing key per peer and direction, a mask stream per peer.
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
  RoundKeys(const KeySchedule& schedule, int n_leaders, uint64_t round, uint64_t attempt);
  uint64_t round() const { return round_; }
  uint64_t attempt() const { return attempt_; }
  Aes256Gcm& to(int peer) { return *to_[peer]; }      // sealing self -> peer
  Aes256Gcm& from(int peer) { return *from_[peer]; }  // opening peer -> self
  // A fresh keystream of the pair {self, peer} (the same on both sides).
  std::unique_ptr<Aes256Ctr> mask_stream(int peer) const;
  // Fresh streams with every other leader (self is the schedule's site).
  MaskStreams mask_streams() const;

 private:
  const KeySchedule& schedule_;
  uint64_t round_, attempt_;
  std::vector<std::unique_ptr<Aes256Gcm>> to_, from_;
};

}  // namespace fedtrain
