// Plaintext ring all-reduce (sum) over a Transport, pipelined in chunks.
#include "runtime/collectives/transport_allreduce.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// One chunk of one step: the ring's 2(n-1) steps each move a segment, and
// every segment is cut into the same number m of chunks.
struct Unit {
  int step = 0;
  size_t chunk = 0;
  int makes = 0;  // how many units leave once this one is taken in (they follow in the schedule)
};

// The order in which every rank sends its units to its right, and so (its left
// doing the same) takes them in from its left: first `depth` chunks of step 0;
// then, each time a unit is taken in, the same chunk of the next step (which
// forwards what came in) and the next chunk of step 0. A queue: the unit taken
// in is the oldest one sent. Every rank computes the same list.
std::vector<Unit> schedule(int steps, size_t m, size_t depth) {
  std::vector<Unit> order;
  order.reserve(static_cast<size_t>(steps) * m);
  size_t first = 0;
  for (; first < std::min(depth, m); ++first) order.push_back({0, first});
  for (size_t taken = 0; taken < order.size(); ++taken) {
    const Unit u = order[taken];
    const size_t before = order.size();
    if (u.step + 1 < steps) order.push_back({u.step + 1, u.chunk});
    if (first < m) order.push_back({0, first++});
    order[taken].makes = static_cast<int>(order.size() - before);
  }
  return order;
}

template <typename T>
class Ring {
 public:
  Ring(Transport& t, std::span<T> data, int tag, const RingOptions& o)
      : t_(t), data_(data), tag_(tag), n_(t.size()), r_(t.rank()), depth_(static_cast<size_t>(std::max(1, o.depth))) {
    const size_t longest = (data.size() + static_cast<size_t>(n_) - 1) / static_cast<size_t>(n_);
    const size_t chunk = std::max<size_t>(1, o.chunk_bytes / sizeof(T));
    m_ = std::max<size_t>(1, (longest + chunk - 1) / chunk);
    order_ = schedule(2 * (n_ - 1), m_, depth_);
    slot_elems_ = (longest + m_ - 1) / m_;
    slots_.reset(new T[slot_elems_ * depth_]);  // no zeroing: each slot is received into before it is read
    receives_.assign(order_.size(), -1);
    pending_send_.assign(static_cast<size_t>(n_) * m_, -1);
  }

  void run() {
    try {
      loop();
    } catch (...) {  // no receive may land in freed slots, no send may read a vector its caller frees
      drain();
      throw;
    }
  }

 private:
  void loop() {
    const size_t units = order_.size();
    for (size_t i = 0; i < std::min(depth_, units); ++i) post_receive(i);
    size_t sent = 0;  // this rank's sends follow order_ too
    for (; sent < std::min(depth_, m_); ++sent) send(order_[sent]);
    for (size_t i = 0; i < units; ++i) {
      take(i);
      if (i + depth_ < units) post_receive(i + depth_);
      for (int k = 0; k < order_[i].makes; ++k) send(order_[sent++]);
    }
    for (Transport::Handle& h : pending_send_)
      if (h >= 0) t_.wait(std::exchange(h, -1));
  }

  // After an error: waits out every handle still pending (each wait is bounded by the transport), ignoring their errors.
  void drain() noexcept {
    for (std::vector<Transport::Handle>* hs : {&receives_, &pending_send_})
      for (Transport::Handle& h : *hs) {
        if (h < 0) continue;
        try {
          t_.wait(std::exchange(h, -1));
        } catch (...) {
        }
      }
  }

  bool reducing(int s) const { return s < n_ - 1; }
  int segment_index(int k) const { return ((k % n_) + n_) % n_; }
  // Reduce-scatter step s sends segment r-s and adds r-s-1; all-gather step s
  // (counted from n-1) sends r+1-s and takes r-s.
  int send_segment(int s) const { return reducing(s) ? segment_index(r_ - s) : segment_index(r_ + 1 - (s - n_ + 1)); }
  int recv_segment(int s) const { return reducing(s) ? segment_index(r_ - s - 1) : segment_index(r_ - (s - n_ + 1)); }
  std::span<T> chunk_span(int segment, size_t c) const {
    const size_t count = data_.size(), n = static_cast<size_t>(n_), k = static_cast<size_t>(segment);
    const size_t first = count * k / n, length = count * (k + 1) / n - first;
    return data_.subspan(first + length * c / m_, length * (c + 1) / m_ - length * c / m_);
  }
  static std::span<uint8_t> bytes_of(std::span<T> s) { return {reinterpret_cast<uint8_t*>(s.data()), s.size_bytes()}; }
  int left() const { return (r_ + n_ - 1) % n_; }
  int right() const { return (r_ + 1) % n_; }
  T* slot(size_t i) const { return slots_.get() + (i % depth_) * slot_elems_; }
  Transport::Handle& send_of(int segment, size_t c) { return pending_send_[static_cast<size_t>(segment) * m_ + c]; }

  void post_receive(size_t i) {
    const Unit u = order_[i];
    const size_t elems = chunk_span(recv_segment(u.step), u.chunk).size();
    receives_[i] = t_.irecv(left(), tag_ + u.step, {reinterpret_cast<uint8_t*>(slot(i)), elems * sizeof(T)});
  }

  void send(const Unit& u) {
    const int k = send_segment(u.step);
    Transport::Handle& h = send_of(k, u.chunk);
    if (h >= 0) t_.wait(std::exchange(h, -1));
    h = t_.isend(right(), tag_ + u.step, bytes_of(chunk_span(k, u.chunk)));
  }

  // Unit i has arrived in its slot: add it to (or copy it into) its chunk, which the next step forwards.
  void take(size_t i) {
    const Unit u = order_[i];
    const int k = recv_segment(u.step);
    const std::span<T> mine = chunk_span(k, u.chunk);
    const size_t got = t_.wait(std::exchange(receives_[i], -1));
    if (got != mine.size_bytes())
      throw Error("all-reduce: leader " + std::to_string(left()) + " sent a chunk of " +
                  (got == Transport::kTooLong ? std::string("too many") : std::to_string(got)) + " bytes, " +
                  std::to_string(mine.size_bytes()) + " expected (do all leaders reduce vectors of the same length?)");
    Transport::Handle& h = send_of(k, u.chunk);
    if (h >= 0) t_.wait(std::exchange(h, -1));  // the chunk's earlier send must be done before it changes
    const T* in = slot(i);
    if (reducing(u.step)) {
      for (size_t j = 0; j < mine.size(); ++j) mine[j] = mine[j] + in[j];
    } else if (!mine.empty()) {
      std::memcpy(mine.data(), in, mine.size_bytes());
    }
  }

  Transport& t_;
  std::span<T> data_;
  int tag_, n_, r_;
  size_t depth_, m_ = 1, slot_elems_ = 1;
  std::vector<Unit> order_;                    // schedule(): the units in the order they travel
  std::unique_ptr<T[]> slots_;                 // depth receive slots of a chunk each
  std::vector<Transport::Handle> receives_;    // per position in order_, while posted
  std::vector<Transport::Handle> pending_send_;  // per (segment, chunk): its send not yet waited for
};

template <typename T>
void ring_sum(Transport& t, std::span<T> data, int tag, const RingOptions& options) {
  if (t.size() == 1) return;
  Ring<T>(t, data, tag, options).run();
}

}  // namespace

void transport_allreduce_sum(Transport& transport, std::span<float> data, int tag, const RingOptions& options) {
  ring_sum(transport, data, tag, options);
}
void transport_allreduce_sum(Transport& transport, std::span<double> data, int tag, const RingOptions& options) {
  ring_sum(transport, data, tag, options);
}

}  // namespace fedtrain
