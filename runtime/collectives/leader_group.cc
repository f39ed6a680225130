// The few collectives the site leaders agree with, over the leader Transport.
#include "runtime/collectives/leader_group.h"

#include <chrono>
#include <algorithm>
#include <cstring>
#include <thread>

#include "runtime/core/check.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

std::string encode_i64(int64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  return s;
}

int64_t decode_i64(const std::string& s, const std::string& site) {
  if (s.size() != 8)
    throw Error("the leader of site '" + site + "' sent a " + std::to_string(s.size()) +
                "-byte value where the leaders' agreement expects 8: it runs another protocol version");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[i])) << (8 * i);
  return static_cast<int64_t>(v);
}

std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

LeaderGroup::LeaderGroup(Transport& transport, std::vector<std::string> sites, double timeout_s)
    : transport_(transport),
      sites_(std::move(sites)),
      timeout_s_(timeout_s),
      present_(sites_.size(), true),
      answered_(sites_.size(), true) {
  FT_CHECK(static_cast<int>(sites_.size()) == transport_.size() && timeout_s_ > 0);
}

void LeaderGroup::set_members(std::vector<bool> present, LostHook on_lost) {
  FT_CHECK(present.size() == sites_.size() && present[rank()] && on_lost);
  present_ = std::move(present);
  on_lost_ = std::move(on_lost);
}

size_t LeaderGroup::bounded_wait(Transport::Handle h, int peer, const char* what) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
  auto pause = std::chrono::microseconds(20);
  size_t bytes = 0;
  while (!transport_.test(h, &bytes)) {
    if (Clock::now() > deadline)
      throw Error("the leader of site '" + sites_[peer] + "' sent no " + what + " within federation.peer_timeout_s = " +
                  std::to_string(static_cast<int>(timeout_s_)) +
                  " s while the leaders agreed on a start-up check, a checkpoint or a stop: it stopped, hangs or "
                  "lost its network (its own log says which)");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
  return bytes;
}

std::vector<std::string> LeaderGroup::exchange(const std::string& bytes, const std::vector<int>& to,
                                               const std::vector<int>& from) {
  FT_CHECK(bytes.size() <= kMaxValueBytes, "leaders' agreement value of " << bytes.size() << " bytes");
  const int n = size();
  // Every receive of a head is posted before anything is sent: a peer can only
  // finish this call after our value reached it, so its head is already here
  // (or on its way into a posted receive) whenever it leaves.
  std::vector<std::string> heads(n), values(n);
  std::vector<Transport::Handle> recvs(n, -1), sends;
  for (int p : from) {
    heads[p].assign(8 + kInlineBytes, '\0');
    recvs[p] = transport_.irecv(p, kHeadTag, {reinterpret_cast<uint8_t*>(heads[p].data()), heads[p].size()});
  }
  const size_t inline_bytes = std::min(bytes.size(), kInlineBytes);
  const std::string head = encode_i64(static_cast<int64_t>(bytes.size())) + bytes.substr(0, inline_bytes);
  const std::span<const uint8_t> rest = as_bytes(bytes).subspan(inline_bytes);
  for (int p : to) {
    sends.push_back(transport_.isend(p, kHeadTag, as_bytes(head)));
    if (!rest.empty()) sends.push_back(transport_.isend(p, kRestTag, rest));
    sent_bytes_ += head.size() + rest.size();
  }
  answered_.assign(n, false);
  answered_[rank()] = true;
  for (int p : from) {
    size_t got = 0;
    try {
      got = bounded_wait(recvs[p], p, "value");
    } catch (const Error& e) {
      if (!on_lost_) throw;
      on_lost_(p, e.what());  // a PeerError, or nothing within timeout_s
      continue;
    }
    answered_[p] = true;
    if (got == Transport::kTooLong || got < 8)
      throw Error("the leader of site '" + sites_[p] + "' sent a malformed value (" +
                  (got == Transport::kTooLong ? std::string("too long") : std::to_string(got) + " bytes") +
                  ") in the leaders' agreement: it runs another protocol version");
    const int64_t announced = decode_i64(heads[p].substr(0, 8), sites_[p]);
    if (announced < 0 || static_cast<uint64_t>(announced) > kMaxValueBytes)
      throw Error("the leader of site '" + sites_[p] + "' announced a " + std::to_string(announced) +
                  "-byte value in the leaders' agreement, beyond its limit of " + std::to_string(kMaxValueBytes) +
                  " bytes: refused");
    const size_t total = static_cast<size_t>(announced), inlined = std::min(total, kInlineBytes);
    if (got != 8 + inlined)
      throw Error("the leader of site '" + sites_[p] + "' sent " + std::to_string(got - 8) + " bytes after announcing " +
                  std::to_string(total) + " in the leaders' agreement: refused");
    values[p] = heads[p].substr(8, inlined);
    if (total > inlined) {
      values[p].resize(total);
      recvs[p] = transport_.irecv(p, kRestTag, {reinterpret_cast<uint8_t*>(values[p].data()) + inlined, total - inlined});
    }
  }
  for (int p : from) {
    if (!answered_[p] || values[p].size() <= kInlineBytes) continue;
    size_t got = 0;
    try {
      got = bounded_wait(recvs[p], p, "value");
    } catch (const Error& e) {
      if (!on_lost_) throw;
      on_lost_(p, e.what());
      answered_[p] = false;
      values[p].clear();
      continue;
    }
    if (got != values[p].size() - kInlineBytes)
      throw Error("the leader of site '" + sites_[p] + "' sent " +
                  (got == Transport::kTooLong ? std::string("more") : std::to_string(got + kInlineBytes)) +
                  " bytes after announcing " + std::to_string(values[p].size()) + " in the leaders' agreement: refused");
  }
  // Every value is in. A peer that has ours too may already have acted on the
  // outcome and left (a failed start-up ends every job): a send that fails
  // now lost nothing, as that peer could not have finished without it.
  for (Transport::Handle h : sends) {
    try {
      bounded_wait(h, 0, "acknowledgement");
    } catch (const Error&) {
    }
  }
  return values;
}

std::vector<std::string> LeaderGroup::allgather(const std::string& mine) {
  std::vector<int> others;
  for (int p = 0; p < size(); ++p)
    if (p != rank() && present_[p]) others.push_back(p);
  std::vector<std::string> all = exchange(mine, others, others);
  all[rank()] = mine;
  return all;
}

int64_t LeaderGroup::max_over(int64_t value) {
  int64_t best = value;
  const std::vector<std::string> all = allgather(encode_i64(value));
  for (int p = 0; p < size(); ++p)
    if (answered_[p]) best = std::max(best, decode_i64(all[p], sites_[p]));
  return best;
}

int64_t LeaderGroup::min_over(int64_t value) { return -max_over(-value); }

bool LeaderGroup::all_of(bool value) { return min_over(value ? 1 : 0) == 1; }

void LeaderGroup::broadcast(std::string& bytes, int root) {
  std::vector<int> to, from;
  if (rank() == root) {
    for (int p = 0; p < size(); ++p)
      if (p != root && present_[p]) to.push_back(p);
  } else {
    from.push_back(root);
  }
  std::vector<std::string> got = exchange(rank() == root ? bytes : std::string(), to, from);
  if (rank() != root) bytes = std::move(got[root]);
}

}  // namespace fedtrain
