// Ring all-reduce in Z_2^32 among the site leaders, every chunk sealed, pipelined across steps.
#include "runtime/federation/encrypted_ring.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <vector>

#include "runtime/core/check.h"

namespace fedtrain {
namespace {

// One chunk of one step: elements [first, first + count) of the vector.
struct Piece {
  SecureLink::ChunkId id;
  size_t first, count;
};

// The ring's 2(n-1) steps, cut into chunks. Step t sends to the next leader
// what it received from the previous one at step t-1 (the same segment, cut
// the same way), so sends[t][c] may leave once recvs[t-1][c] is in.
class RingPlan {
 public:
  RingPlan(size_t elements, int n, int r, size_t chunk_elements) : n_(n), chunk_(chunk_elements) {
    auto seg_begin = [&](int k) { return elements * static_cast<size_t>(k) / n; };
    auto segment = [&](int k) {
      k = ((k % n) + n) % n;
      return std::pair{seg_begin(k), seg_begin(k + 1) - seg_begin(k)};
    };
    for (int t = 0; t < 2 * (n - 1); ++t) {
      const bool rs = t < n - 1;
      const int s = rs ? t : t - (n - 1);
      // Reduce-scatter step s: send segment r-s, receive r-s-1. All-gather step s: send r+1-s, receive r-s.
      add(sends_, rs, s, rs ? segment(r - s) : segment(r + 1 - s));
      first_recv_.push_back(recvs_.size());
      add(recvs_, rs, s, rs ? segment(r - s - 1) : segment(r - s));
    }
  }
  const std::vector<Piece>& sends() const { return sends_; }
  const std::vector<Piece>& recvs() const { return recvs_; }
  int steps() const { return 2 * (n_ - 1); }
  size_t largest() const {
    size_t m = 0;
    for (const auto* list : {&sends_, &recvs_})
      for (const Piece& p : *list) m = std::max(m, p.count);
    return m;
  }
  int step_of(const Piece& p) const { return p.id.phase == Phase::kReduceScatter ? int(p.id.step) : int(p.id.step) + n_ - 1; }
  // The receive whose chunk send `p` forwards (its step's predecessor), or -1 for the first step's sends.
  ptrdiff_t source_of(const Piece& p) const {
    const int t = step_of(p);
    return t == 0 ? -1 : static_cast<ptrdiff_t>(first_recv_[t - 1] + p.id.chunk);
  }
  bool last_reduce_step(const Piece& p) const { return p.id.phase == Phase::kReduceScatter && int(p.id.step) == n_ - 2; }

 private:
  void add(std::vector<Piece>& to, bool rs, int s, std::pair<size_t, size_t> seg) {
    const auto chunks = static_cast<uint32_t>(std::max<size_t>(1, (seg.second + chunk_ - 1) / chunk_));
    for (uint32_t c = 0; c < chunks; ++c) {
      const size_t first = seg.first + size_t{c} * chunk_;
      const size_t count = std::min(chunk_, seg.second - std::min(seg.second, size_t{c} * chunk_));
      to.push_back({{rs ? Phase::kReduceScatter : Phase::kAllGather, static_cast<uint32_t>(s), c, chunks}, first, count});
    }
  }
  int n_;
  size_t chunk_;
  std::vector<Piece> sends_, recvs_;
  std::vector<size_t> first_recv_;
};

// Up to kWindow chunks sent and kWindow receives posted ahead: enough to keep
// a link busy (the transport's socket buffers hold what is in flight), small
// enough to bound the wire buffers at 2 x kWindow chunks.
constexpr size_t kWindow = 8;

class Pipeline {
 public:
  Pipeline(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes, const LocalSource& prepare,
           const FinalSink& final)
      : link_(link),
        data_(data),
        plan_(data.size(), link.size(), link.self(), chunk_bytes / sizeof(uint32_t)),
        prepare_(prepare),
        final_(final),
        slot_(SecureLink::chunk_slot_bytes(std::min(chunk_bytes, plan_.largest() * sizeof(uint32_t)))),
        send_h_(kWindow, -1),
        recv_h_(kWindow, -1),
        next_(((link.self() + 1) % link.size())),
        prev_((link.self() + link.size() - 1) % link.size()) {
    std::tie(send_wire_, recv_wire_) =
        link.chunk_buffers(kWindow, std::min(chunk_bytes, plan_.largest() * sizeof(uint32_t)));
  }

  std::string run() {
    const auto& sends = plan_.sends();
    const auto& recvs = plan_.recvs();
    for (size_t k = 0; k < std::min(kWindow, recvs.size()); ++k) post(k);
    while (sent_ < sends.size() || done_ < recvs.size()) {
      bool moved = false;
      if (send_ready() && slot_free()) {
        send(sent_++);
        moved = true;
      }
      size_t got = 0;
      if (done_ < recvs.size() && link_.arrived(recv_h_[done_ % kWindow], &got)) {
        receive(got);
        moved = true;
      }
      if (!moved) block();
    }
    for (Transport::Handle h : send_h_)
      if (h != -1) link_.wait(h);
    return failure_;
  }

 private:
  std::span<const uint8_t> bytes(const Piece& p) const {
    return {reinterpret_cast<const uint8_t*>(data_.data() + p.first), p.count * sizeof(uint32_t)};
  }
  bool send_ready() const {
    if (sent_ == plan_.sends().size()) return false;
    const ptrdiff_t source = plan_.source_of(plan_.sends()[sent_]);
    return source < 0 || static_cast<size_t>(source) < done_;
  }
  // The slot of send `sent_` is free once the send kWindow before it completed (tested, not waited for).
  bool slot_free() {
    Transport::Handle& h = send_h_[sent_ % kWindow];
    size_t ignored = 0;
    if (h != -1 && link_.arrived(h, &ignored)) h = -1;
    return h == -1;
  }
  void post(size_t k) {
    const Piece& p = plan_.recvs()[k];
    recv_h_[k % kWindow] = link_.post_chunk(p.id.phase, prev_, {recv_wire_ + (k % kWindow) * slot_, slot_});
  }
  void send(size_t k) {
    const Piece& p = plan_.sends()[k];
    if (plan_.step_of(p) == 0 && prepare_) prepare_(p.first, p.count);
    send_h_[k % kWindow] = link_.send_chunk(p.id, next_, bytes(p), send_wire_ + (k % kWindow) * slot_);
  }
  // Receive `done_` has arrived with `got` bytes: open it, fold it in, post the one kWindow ahead.
  void receive(size_t got) {
    const size_t k = done_;
    const Piece& p = plan_.recvs()[k];
    recv_h_[k % kWindow] = -1;
    uint8_t* wire = recv_wire_ + (k % kWindow) * slot_;
    // The local part is made ready whether or not the chunk opens: it is sent on at the next step.
    if (p.id.phase == Phase::kReduceScatter && prepare_) prepare_(p.first, p.count);
    const std::string why = link_.open_chunk(p.id, prev_, p.count * sizeof(uint32_t), wire, got);
    // From the first failure on nothing is folded in: this leader's vector is no longer a sum.
    if (failure_.empty() && why.empty()) fold(p, wire + wire_offset::kPayload);
    if (failure_.empty()) failure_ = why;
    ++done_;
    if (k + kWindow < plan_.recvs().size()) post(k + kWindow);
  }
  void fold(const Piece& p, const uint8_t* payload) {
    uint32_t* dst = data_.data() + p.first;
    if (p.id.phase == Phase::kReduceScatter) {
      uint32_t v;
      for (size_t i = 0; i < p.count; ++i) {
        std::memcpy(&v, payload + i * sizeof(uint32_t), sizeof v);
        dst[i] += v;  // mod 2^32
      }
    } else {
      std::memcpy(dst, payload, p.count * sizeof(uint32_t));
    }
    const bool is_final = p.id.phase == Phase::kAllGather || plan_.last_reduce_step(p);
    if (is_final && final_) final_(p.first, dst, p.count);
  }
  // Nothing to do: wait for the next receive, or for the send that holds the next send's slot.
  void block() {
    Transport::Handle* held = send_ready() ? &send_h_[sent_ % kWindow] : nullptr;
    std::array<Transport::Handle, 2> hs = {held != nullptr ? *held : -1,
                                           done_ < plan_.recvs().size() ? recv_h_[done_ % kWindow] : -1};
    size_t got = 0;
    const size_t which = link_.wait_any(hs, &got);
    if (which == 0) {
      *held = -1;
    } else {
      receive(got);
    }
  }

  SecureLink& link_;
  std::span<uint32_t> data_;
  RingPlan plan_;
  const LocalSource& prepare_;
  const FinalSink& final_;
  size_t slot_;
  uint8_t* send_wire_ = nullptr;  // kWindow slots each, kept by the link
  uint8_t* recv_wire_ = nullptr;
  std::vector<Transport::Handle> send_h_, recv_h_;
  int next_, prev_;
  size_t sent_ = 0, done_ = 0;
  std::string failure_;
};

}  // namespace

std::string ring_allreduce(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes, const LocalSource& prepare,
                           const FinalSink& final) {
  if (link.size() == 1) {
    if (prepare) prepare(0, data.size());
    if (final) final(0, data.data(), data.size());
    return "";
  }
  const size_t chunk = std::max<size_t>(sizeof(uint32_t), chunk_bytes / sizeof(uint32_t) * sizeof(uint32_t));
  return Pipeline(link, data, chunk, prepare, final).run();
}

}  // namespace fedtrain
