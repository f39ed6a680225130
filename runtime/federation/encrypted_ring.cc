// Ring all-reduce in Z_2^32 among the site leaders, every chunk sealed, pipelined across steps.
#include "runtime/federation/encrypted_ring.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/federation/crypto_workers.h"

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
      first_send_.push_back(sends_.size());
      add(sends_, rs, s, rs ? segment(r - s) : segment(r + 1 - s));
      first_recv_.push_back(recvs_.size());
      add(recvs_, rs, s, rs ? segment(r - s - 1) : segment(r - s));
    }
  }
  const std::vector<Piece>& sends() const { return sends_; }
  const std::vector<Piece>& recvs() const { return recvs_; }
  // Bytes of the longest chunk sent or received (a ring of small segments needs no full-size slots).
  size_t largest_bytes() const {
    size_t m = 0;
    for (const auto* list : {&sends_, &recvs_})
      for (const Piece& p : *list) m = std::max(m, p.count);
    return m * sizeof(uint32_t);
  }
  int step_of(const Piece& p) const { return p.id.phase == Phase::kReduceScatter ? int(p.id.step) : int(p.id.step) + n_ - 1; }
  // The receive whose chunk send `p` forwards (its step's predecessor), or -1 for the first step's sends.
  ptrdiff_t source_of(const Piece& p) const {
    const int t = step_of(p);
    return t == 0 ? -1 : static_cast<ptrdiff_t>(first_recv_[t - 1] + p.id.chunk);
  }
  // The send whose elements receive `p` overwrites (all-gather step s lands
  // where reduce-scatter step s was sent from, cut the same way), or -1.
  ptrdiff_t overwrites(const Piece& p) const {
    if (p.id.phase != Phase::kAllGather) return -1;
    return static_cast<ptrdiff_t>(first_send_[p.id.step] + p.id.chunk);
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
  std::vector<size_t> first_recv_, first_send_;  // by step
};

// Up to kWindow chunks sent and kWindow receives posted ahead: enough to keep
// a link busy (the transport's socket buffers hold what is in flight), small
// enough to bound the wire buffers at 2 x kWindow chunks.
constexpr size_t kWindow = 8;
// MPI cannot be woken by a crypto thread: while they work and a transfer is
// pending, the ring's thread tests the transport this often (a bounded sleep
// on the workers' condition variable in between, never a busy spin).
constexpr double kPollSeconds = 100e-6;

class Pipeline {
 public:
  Pipeline(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes, const LocalSource& prepare,
           const FinalSink& final, CryptoWorkers& workers)
      : link_(link),
        data_(data),
        plan_(data.size(), link.size(), link.self(), chunk_bytes / sizeof(uint32_t)),
        prepare_(prepare),
        final_(final),
        workers_(workers),
        slot_(SecureLink::chunk_slot_bytes(plan_.largest_bytes())),
        sends_(plan_.sends().size()),
        recvs_(plan_.recvs().size()),
        send_h_(kWindow, -1),
        next_(((link.self() + 1) % link.size())),
        prev_((link.self() + link.size() - 1) % link.size()) {
    std::tie(send_wire_, recv_wire_) = link.chunk_buffers(kWindow, plan_.largest_bytes());
  }

  std::string run() {
    if (workers_.threads() > 0 && link_.can_wake()) workers_.set_on_done([this] { link_.wake(); });
    try {
      loop();
    } catch (...) {  // no task may outlive the buffers it works on
      workers_.drain();
      workers_.set_on_done({});
      throw;
    }
    workers_.set_on_done({});
    for (Transport::Handle h : send_h_)
      if (h != -1) link_.wait(h);
    return failure_;
  }

 private:
  enum class SendState { kWaiting, kSealing, kSealed, kSent };
  enum class RecvState { kUnposted, kPosted, kOpening, kOpened, kFolding, kDone };
  struct Send {
    SendState state = SendState::kWaiting;
    SecureLink::SealedChunk sealed;
    LinkStats times;  // the task's, added to the link's when it is taken
  };
  struct Recv {
    RecvState state = RecvState::kUnposted;
    Transport::Handle handle = -1;
    size_t got = 0;
    std::string why;
    LinkStats times;
  };
  // Task ids: send k is 2k, receive k (its open, then its fold) 2k + 1.
  static size_t send_task(size_t k) { return 2 * k; }
  static size_t recv_task(size_t k) { return 2 * k + 1; }

  void loop() {
    post_ready();
    while (sent_ < sends_.size() || retired_ < recvs_.size()) {
      // Each step takes what the one before finished (without threads, at
      // once): a fold, then the send that forwards it, then the next open.
      bool moved = collect();
      moved = commit() || moved;
      moved = collect() || moved;
      moved = start_seals() || moved;
      moved = collect() || moved;
      moved = issue_sends() || moved;
      moved = poll_receives() || moved;
      if (!moved) block();
    }
  }

  std::span<const uint8_t> bytes(const Piece& p) const {
    return {reinterpret_cast<const uint8_t*>(data_.data() + p.first), p.count * sizeof(uint32_t)};
  }
  uint8_t* send_slot(size_t k) const { return send_wire_ + (k % kWindow) * slot_; }
  uint8_t* recv_slot(size_t k) const { return recv_wire_ + (k % kWindow) * slot_; }

  // Send k may be sealed once what it forwards is folded in and its wire slot
  // is no longer another send's (the one kWindow before it was handed over).
  bool seal_waits_only_for_slot(size_t k) const {
    const ptrdiff_t source = plan_.source_of(plan_.sends()[k]);
    return k < sent_ + kWindow && (source < 0 || recvs_[source].state == RecvState::kDone);
  }
  // Without threads a task runs when it is submitted: one seal and one open
  // a turn, each send going out as soon as it is sealed, keep both links busy.
  size_t burst() const { return workers_.threads() > 0 ? kWindow : 1; }
  bool start_seals() {
    bool moved = false;
    for (size_t started = 0; started < burst() && next_seal_ < sends_.size() && seal_waits_only_for_slot(next_seal_);
         ++started) {
      Transport::Handle& h = send_h_[next_seal_ % kWindow];
      size_t ignored = 0;
      if (h != -1 && !link_.arrived(h, &ignored)) break;  // tested, not waited for
      h = -1;
      const size_t k = next_seal_++;
      sends_[k].state = SendState::kSealing;
      workers_.submit(send_task(k), [this, k](int lane) { seal(k, lane); });
      moved = true;
    }
    return moved;
  }
  void seal(size_t k, int lane) {
    const Piece& p = plan_.sends()[k];
    if (plan_.step_of(p) == 0 && prepare_) prepare_(p.first, p.count, lane);
    sends_[k].sealed = link_.seal_chunk(p.id, next_, bytes(p), send_slot(k), lane, sends_[k].times);
  }
  // In send order: each line appended to the egress log just before its message goes.
  bool issue_sends() {
    bool moved = false;
    while (sent_ < next_seal_ && sends_[sent_].state == SendState::kSealed) {
      const Piece& p = plan_.sends()[sent_];
      send_h_[sent_ % kWindow] = link_.send_sealed(p.id.phase, next_, send_slot(sent_), sends_[sent_].sealed);
      sends_[sent_++].state = SendState::kSent;
      moved = true;
    }
    return moved;
  }

  // Receives are posted in order (the transport matches a peer's messages of
  // one tag to receives in the order they were posted), each once the one
  // kWindow before it, which held its slot, is done.
  void post_ready() {
    while (next_post_ < recvs_.size() && (next_post_ < kWindow || recvs_[next_post_ - kWindow].state == RecvState::kDone)) {
      const size_t k = next_post_++;
      recvs_[k].handle = link_.post_chunk(plan_.recvs()[k].id.phase, prev_, {recv_slot(k), slot_});
      recvs_[k].state = RecvState::kPosted;
    }
  }
  // The first receive still on the wire, or recvs_.size().
  size_t first_on_wire() const {
    size_t k = retired_;
    while (k < next_post_ && recvs_[k].state != RecvState::kPosted) ++k;
    return k < next_post_ ? k : recvs_.size();
  }
  bool poll_receives() {
    bool moved = false;
    for (size_t k = first_on_wire(), opened = 0;
         opened < burst() && k < next_post_ && recvs_[k].state == RecvState::kPosted; ++k, ++opened) {
      size_t got = 0;
      if (!link_.arrived(recvs_[k].handle, &got)) break;
      arrived(k, got);
      moved = true;
    }
    return moved;
  }
  void arrived(size_t k, size_t got) {
    Recv& r = recvs_[k];
    r.handle = -1;
    r.got = got;
    r.state = RecvState::kOpening;
    workers_.submit(recv_task(k), [this, k](int lane) { open(k, lane); });
  }
  void open(size_t k, int lane) {
    const Piece& p = plan_.recvs()[k];
    Recv& r = recvs_[k];
    // The local part is made ready whether or not the chunk opens: it is sent on at the next step.
    if (p.id.phase == Phase::kReduceScatter && prepare_) prepare_(p.first, p.count, lane);
    r.why = link_.open_chunk(p.id, prev_, p.count * sizeof(uint32_t), recv_slot(k), r.got, lane, r.times);
  }

  bool collect() {
    done_ids_.clear();
    workers_.take_done(done_ids_);
    for (size_t id : done_ids_) {
      const size_t k = id / 2;
      if (id % 2 == 0) {
        sends_[k].state = SendState::kSealed;
        link_.add_times(sends_[k].times);
        sends_[k].times = {};
      } else if (recvs_[k].state == RecvState::kOpening) {
        recvs_[k].state = RecvState::kOpened;
        link_.add_times(recvs_[k].times);
        recvs_[k].times = {};
      } else {
        FT_CHECK(recvs_[k].state == RecvState::kFolding);
        retire(k);
      }
    }
    return !done_ids_.empty();
  }
  // In receive order: fold each opened chunk in, or, from the first that did
  // not open on, nothing (this leader's vector is no longer a sum).
  bool commit() {
    bool moved = false;
    while (verified_ < recvs_.size() && recvs_[verified_].state == RecvState::kOpened) {
      const size_t k = verified_;
      Recv& r = recvs_[k];
      if (failure_.empty() && r.why.empty()) {
        // An all-gather chunk lands where this leader's reduce-scatter send of the same step was read from.
        const ptrdiff_t reader = plan_.overwrites(plan_.recvs()[k]);
        if (reader >= 0 && sends_[reader].state < SendState::kSealed) break;
        r.state = RecvState::kFolding;
        workers_.submit(recv_task(k), [this, k](int) { fold(plan_.recvs()[k], recv_slot(k) + wire_offset::kPayload); });
      } else {
        if (failure_.empty()) failure_ = r.why;
        retire(k);
      }
      ++verified_;
      moved = true;
    }
    return moved;
  }
  void retire(size_t k) {
    recvs_[k].state = RecvState::kDone;
    ++retired_;
    post_ready();
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

  // Nothing moved: wait for the first receive on the wire, for the send that
  // holds the next seal's slot, or for a crypto thread to finish a task.
  void block() {
    const size_t wire = first_on_wire();
    const bool slot_held = next_seal_ < sends_.size() && seal_waits_only_for_slot(next_seal_);
    std::array<Transport::Handle, 2> hs = {slot_held ? send_h_[next_seal_ % kWindow] : -1,
                                           wire < recvs_.size() ? recvs_[wire].handle : -1};
    const bool busy = workers_.pending() > 0;
    if (hs[0] == -1 && hs[1] == -1) {
      FT_CHECK(busy, "the secure ring waits for nothing (sent " << sent_ << ", retired " << retired_ << ")");
      workers_.wait_done(3600);
      return;
    }
    size_t got = 0, which = 0;
    if (!busy) {
      which = link_.wait_any(hs, &got);  // no task can finish: only the transport moves
    } else if (link_.can_wake()) {
      which = link_.wait_any_or_woken(hs, &got);
      if (which == Transport::kWoken) return;
    } else {
      workers_.wait_done(kPollSeconds);  // the loop tests the transport again
      return;
    }
    if (which == 0) {
      send_h_[next_seal_ % kWindow] = -1;
    } else {
      arrived(wire, got);
    }
  }

  SecureLink& link_;
  std::span<uint32_t> data_;
  RingPlan plan_;
  const LocalSource& prepare_;
  const FinalSink& final_;
  CryptoWorkers& workers_;
  size_t slot_;
  uint8_t* send_wire_ = nullptr;  // kWindow slots each, kept by the link
  uint8_t* recv_wire_ = nullptr;
  std::vector<Send> sends_;
  std::vector<Recv> recvs_;
  std::vector<Transport::Handle> send_h_;  // by slot: the send that last used it, until it completed
  std::vector<size_t> done_ids_;
  int next_, prev_;
  size_t next_seal_ = 0, sent_ = 0;                  // sends: [sent_, next_seal_) are sealing or sealed
  size_t next_post_ = 0, verified_ = 0, retired_ = 0;  // receives: retired_ <= verified_ <= next_post_
  std::string failure_;
};

}  // namespace

std::string ring_allreduce(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes, const LocalSource& prepare,
                           const FinalSink& final, CryptoWorkers* pool) {
  if (link.size() == 1) {
    if (prepare) prepare(0, data.size(), 0);
    if (final) final(0, data.data(), data.size());
    return "";
  }
  const size_t chunk = std::max<size_t>(sizeof(uint32_t), chunk_bytes / sizeof(uint32_t) * sizeof(uint32_t));
  CryptoWorkers inline_only(0);
  CryptoWorkers& workers = pool != nullptr ? *pool : inline_only;
  FT_CHECK(link.lanes() >= workers.lanes(), "round keys with " << link.lanes() << " lanes for " << workers.lanes()
                                                                << " crypto threads");
  return Pipeline(link, data, chunk, prepare, final, workers).run();
}

}  // namespace fedtrain
