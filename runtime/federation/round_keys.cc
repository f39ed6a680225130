// The keys of one round attempt on one leader.
#include "runtime/federation/round_keys.h"

#include "runtime/core/check.h"

namespace fedtrain {

RoundKeys::RoundKeys(const KeySchedule& schedule, int n_leaders, uint64_t round, uint64_t attempt, int lanes)
    : schedule_(schedule),
      round_(round),
      attempt_(attempt),
      n_leaders_(n_leaders),
      lanes_(lanes),
      to_(static_cast<size_t>(n_leaders) * lanes),
      from_(static_cast<size_t>(n_leaders) * lanes) {
  FT_CHECK(lanes >= 1);
  const int self = schedule.self();
  for (int peer = 0; peer < n_leaders; ++peer) {
    if (peer == self) continue;
    const Key256 out = schedule.channel_key(self, peer, round, attempt), in = schedule.channel_key(peer, self, round, attempt);
    for (int lane = 0; lane < lanes; ++lane) {
      to_[index(peer, lane)] = std::make_unique<Aes256Gcm>(out);
      from_[index(peer, lane)] = std::make_unique<Aes256Gcm>(in);
    }
  }
}

size_t RoundKeys::index(int peer, int lane) const {
  FT_CHECK(peer >= 0 && peer < n_leaders_ && lane >= 0 && lane < lanes_, "peer " << peer << " lane " << lane);
  return static_cast<size_t>(lane) * n_leaders_ + peer;
}

std::unique_ptr<Aes256Ctr> RoundKeys::mask_stream(int peer) const {
  return std::make_unique<Aes256Ctr>(schedule_.mask_key(peer, round_, attempt_));
}

MaskStreams RoundKeys::mask_streams() const {
  MaskStreams m;
  for (int peer = 0; peer < n_leaders_; ++peer) {
    if (peer == schedule_.self()) continue;
    m.peers.push_back(peer);
    m.owned.push_back(mask_stream(peer));
    m.streams.push_back(m.owned.back().get());
  }
  return m;
}

}  // namespace fedtrain
