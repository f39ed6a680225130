// The few collectives the site leaders agree with, over the leader Transport (MPI in one world, TCP per site).
//
// Start-up checks, the resume decision, checkpoint commits and the stop at a
// round boundary need only small values shared among the leaders; this layer
// gives them over whatever Transport joins the leaders, so that one code path
// serves a single MPI world (the MPI transport over leaders_comm) and one job
// per site (the TCP transport of runtime/net/).
//
// Protocol of every call (collective: every leader makes the same calls in the
// same order): each leader sends its value to every other leader as a head on
// tag kHeadTag, the value's length (8 bytes, little-endian) and its first
// kInlineBytes, and the rest, if any, on tag kRestTag; every receive of a head
// is posted before anything is sent. The Transport keeps a (peer, tag)'s
// messages in order, so consecutive calls never mix. The tags are apart from the secure
// protocol's (Phase, 1..7 in sealed_message.h). A value is at most
// kMaxValueBytes: a longer announced length is refused before anything is
// allocated for it. Every wait for a value is bounded by `timeout_s` (polling
// test()), and a leader that sends nothing in time fails the call with an
// Error naming it. Once every value is in, a send that fails (its peer left)
// is ignored: that peer had our value, or it could not have left the call.
// The messages are not sealed: they carry flags, exit codes, checkpoint
// scans and digests, never an update.
// Once training runs with one job per site (set_members), the calls span the
// present leaders only, and a peer lost in a call (its connection failed, or
// no value within `timeout_s`) does not fail it: it is reported to the hook,
// its value is missing (answered() false) and the round driver's next
// membership agreement removes it (federation/membership.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"

namespace fedtrain {

class LeaderGroup {
 public:
  static constexpr int kHeadTag = 32, kRestTag = 33;
  static constexpr size_t kInlineBytes = 64 * 1024;
  static constexpr size_t kMaxValueBytes = size_t{64} << 20;

  // Transport rank i is sites[i]; `transport` must outlive this.
  LeaderGroup(Transport& transport, std::vector<std::string> sites, double timeout_s);

  int rank() const { return transport_.rank(); }
  int size() const { return transport_.size(); }
  const std::string& site(int rank) const { return sites_[rank]; }

  // Every leader's bytes, in rank order (mine included).
  std::vector<std::string> allgather(const std::string& mine);
  // The largest value over the leaders.
  int64_t max_over(int64_t value);
  int64_t min_over(int64_t value);
  bool all_of(bool value);
  // Root's bytes to every leader (`bytes` is replaced on the others).
  void broadcast(std::string& bytes, int root);

  // Bytes this leader has sent to the others.
  uint64_t sent_bytes() const { return sent_bytes_; }

  // From now on only the leaders with present[i] take part, and a lost peer
  // is reported to `on_lost` instead of failing the call.
  using LostHook = std::function<void(int rank, const std::string& why)>;
  void set_members(std::vector<bool> present, LostHook on_lost);
  // Whether leader `rank`'s value is in the last call's result (itself: always).
  bool answered(int rank) const { return answered_[rank]; }

 private:
  // Sends `bytes` to each of `to` and receives one value from each of `from`.
  std::vector<std::string> exchange(const std::string& bytes, const std::vector<int>& to, const std::vector<int>& from);
  size_t bounded_wait(Transport::Handle h, int peer, const char* what);

  Transport& transport_;
  std::vector<std::string> sites_;
  double timeout_s_;
  uint64_t sent_bytes_ = 0;
  std::vector<bool> present_, answered_;
  LostHook on_lost_;  // set: lost peers are tolerated
};

}  // namespace fedtrain
