// The keys of one round attempt on one leader.
#include "runtime/federation/round_keys.h"

namespace fedtrain {

RoundKeys::RoundKeys(const KeySchedule& schedule, int n_leaders, uint64_t round, uint64_t attempt)
    : schedule_(schedule), round_(round), attempt_(attempt), to_(n_leaders), from_(n_leaders) {
  const int self = schedule.self();
  for (int peer = 0; peer < n_leaders; ++peer) {
    if (peer == self) continue;
    to_[peer] = std::make_unique<Aes256Gcm>(schedule.channel_key(self, peer, round, attempt));
    from_[peer] = std::make_unique<Aes256Gcm>(schedule.channel_key(peer, self, round, attempt));
  }
}

std::unique_ptr<Aes256Ctr> RoundKeys::mask_stream(int peer) const {
  return std::make_unique<Aes256Ctr>(schedule_.mask_key(peer, round_, attempt_));
}

MaskStreams RoundKeys::mask_streams() const {
  MaskStreams m;
  for (int peer = 0; peer < static_cast<int>(to_.size()); ++peer) {
    if (peer == schedule_.self()) continue;
    m.peers.push_back(peer);
    m.owned.push_back(mask_stream(peer));
    m.streams.push_back(m.owned.back().get());
  }
  return m;
}

}  // namespace fedtrain
