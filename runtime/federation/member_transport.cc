// The leader Transport among the leaders of one membership.
#include "runtime/federation/member_transport.h"

#include <algorithm>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {

MemberTransport::MemberTransport(Transport& all, std::vector<int> members, LostHook on_lost)
    : all_(all), members_(std::move(members)), on_lost_(std::move(on_lost)) {
  FT_CHECK(std::is_sorted(members_.begin(), members_.end()));
  for (size_t i = 0; i < members_.size(); ++i) {
    FT_CHECK(members_[i] >= 0 && members_[i] < all.size());
    if (members_[i] == all.rank()) self_ = static_cast<int>(i);
  }
  FT_CHECK(self_ >= 0, "this leader is not among the members");
}

Transport::Handle MemberTransport::isend(int peer, int tag, std::span<const uint8_t> bytes) {
  FT_CHECK(peer >= 0 && peer < size() && peer != self_);
  return all_.isend(members_[peer], tag, bytes);
}

Transport::Handle MemberTransport::irecv(int peer, int tag, std::span<uint8_t> buffer) {
  FT_CHECK(peer >= 0 && peer < size() && peer != self_);
  const Handle h = all_.irecv(members_[peer], tag, buffer);
  receives_[h] = buffer;
  return h;
}

size_t MemberTransport::done(Handle h, size_t bytes) {
  receives_.erase(h);
  return bytes;
}

size_t MemberTransport::lost(Handle h, int full_rank, const std::string& why) {
  ++losses_;
  if (on_lost_) on_lost_(full_rank, why);
  auto it = receives_.find(h);
  if (it == receives_.end()) return 0;  // a send
  std::span<uint8_t> buffer = it->second;
  receives_.erase(it);
  if (!buffer.empty()) std::memset(buffer.data(), 0, buffer.size());
  return buffer.size();
}

size_t MemberTransport::wait(Handle h) {
  try {
    return done(h, all_.wait(h));
  } catch (const PeerError& e) {
    return lost(h, e.peer(), e.what());
  }
}

bool MemberTransport::test(Handle h, size_t* bytes) {
  size_t got = 0;
  try {
    if (!all_.test(h, &got)) return false;
    got = done(h, got);
  } catch (const PeerError& e) {
    got = lost(h, e.peer(), e.what());
  }
  if (bytes != nullptr) *bytes = got;
  return true;
}

size_t MemberTransport::wait_any(std::span<Handle> handles, size_t* bytes) { return wait_first(handles, bytes, false); }

size_t MemberTransport::wait_any_or_woken(std::span<Handle> handles, size_t* bytes) {
  return wait_first(handles, bytes, true);
}

size_t MemberTransport::wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable) {
  const std::vector<Handle> before(handles.begin(), handles.end());
  size_t got = 0;
  try {
    const size_t i = wakeable ? all_.wait_any_or_woken(handles, &got) : all_.wait_any(handles, &got);
    if (i == kWoken) return i;
    if (bytes != nullptr) *bytes = done(before[i], got);
    return i;
  } catch (const PeerError& e) {
    // The transport marked the failed handle taken (-1) before it threw.
    for (size_t i = 0; i < handles.size(); ++i) {
      if (before[i] >= 0 && handles[i] < 0) {
        got = lost(before[i], e.peer(), e.what());
        if (bytes != nullptr) *bytes = got;
        return i;
      }
    }
    throw;
  }
}

}  // namespace fedtrain
