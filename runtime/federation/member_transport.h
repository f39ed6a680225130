// The leader Transport among the leaders of one membership: ranks renumbered, a lost peer's operations completed empty.
//
// One job per site: the leaders that are present (membership.h) run the round
// protocol over this view of the TCP transport. Member i is full rank
// members[i] (site order), so the protocols see a federation of the present
// sites only. A peer that fails (PeerError: it closed its connection, broke
// it, or moved no byte for federation.peer_timeout_s) does not end the
// caller's protocol: the failed operation completes as if it had succeeded,
// a receive with its whole buffer zeroed (no byte of a lost peer reaches the
// caller), and the loss is reported to `on_lost` and counted in losses().
// That keeps every present leader in lock-step (every message among the
// others is still sent and received); the protocols then fail the attempt,
// a zeroed message does not open (secure) or the loss count changed (plaintext),
// and the next attempt runs without the lost peer.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/collectives/transport.h"

namespace fedtrain {

class MemberTransport final : public Transport {
 public:
  using LostHook = std::function<void(int full_rank, const std::string& why)>;
  // `members`: full ranks in ascending order, `all.rank()` among them; `all` must outlive this.
  MemberTransport(Transport& all, std::vector<int> members, LostHook on_lost);

  int rank() const override { return self_; }
  int size() const override { return static_cast<int>(members_.size()); }
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override;
  Handle irecv(int peer, int tag, std::span<uint8_t> buffer) override;
  size_t wait(Handle h) override;
  bool test(Handle h, size_t* bytes) override;
  size_t wait_any(std::span<Handle> handles, size_t* bytes) override;
  bool can_wake() const override { return all_.can_wake(); }
  void wake() override { all_.wake(); }
  size_t wait_any_or_woken(std::span<Handle> handles, size_t* bytes) override;

  // Peers lost through this view so far.
  uint64_t losses() const { return losses_; }
  const std::vector<int>& members() const { return members_; }

 private:
  // A handle that failed with its peer: zero its receive buffer, report, return the bytes it "received".
  size_t lost(Handle h, int full_rank, const std::string& why);
  size_t done(Handle h, size_t bytes);
  // wait_any; `wakeable`: wait_any_or_woken.
  size_t wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable);

  Transport& all_;
  std::vector<int> members_;
  int self_ = -1;
  LostHook on_lost_;
  std::unordered_map<Handle, std::span<uint8_t>> receives_;  // pending receives, for zeroing
  uint64_t losses_ = 0;
};

}  // namespace fedtrain
