// The leader Transport over TCP: handles, matching in order per (peer, tag), bounded waits, and the framing.
#include "runtime/net/tcp_transport.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "runtime/core/check.h"
#include "runtime/net/tcp_transport_impl.h"

namespace fedtrain {
namespace {

using net::Conn;
using net::FrameKind;
using net::kChunkBytes;
using net::kFrameHeaderBytes;

void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::array<uint8_t, kFrameHeaderBytes> frame_header(FrameKind kind, int tag, uint64_t length) {
  std::array<uint8_t, kFrameHeaderBytes> h{};
  h[0] = static_cast<uint8_t>(kind);
  put_le(h.data() + 4, static_cast<uint32_t>(tag), 4);
  put_le(h.data() + 8, length, 8);
  return h;
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

std::string seconds_text(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

}  // namespace

// ---- the caller's side ----

TcpTransport::TcpTransport(const TcpTransportOptions& options) : impl_(std::make_unique<Impl>(options)) {
  impl_->connect();
}
TcpTransport::~TcpTransport() = default;

std::unique_ptr<TcpTransport> connect_tcp_transport(const TcpTransportOptions& options) {
  return std::make_unique<TcpTransport>(options);
}

int TcpTransport::rank() const { return impl_->self; }
int TcpTransport::size() const { return impl_->n_leaders; }

TcpTransport::Handle TcpTransport::Impl::new_op_locked(int peer, int tag, bool send) {
  FT_CHECK(peer >= 0 && peer < n_leaders && peer != self, "peer " << peer << " of " << n_leaders << " leaders, self " << self);
  Handle h;
  if (!free_ops.empty()) {
    h = free_ops.back();
    free_ops.pop_back();
  } else {
    ops.emplace_back();
    h = static_cast<Handle>(ops.size() - 1);
  }
  Op& op = ops[h];
  op = Op{};
  op.live = true;
  op.peer = peer;
  op.tag = tag;
  op.send = send;
  const Peer& p = peers[peer];
  const bool kept = !send && std::any_of(p.early.begin(), p.early.end(), [&](const Early& e) { return e.tag == tag; });
  if (p.failed && !kept) {  // a message it sent before it closed still arrives (fail_peer_locked)
    op.done = true;
    op.error = p.failure;
  }
  return h;
}

TcpTransport::Handle TcpTransport::isend(int peer, int tag, std::span<const uint8_t> bytes) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  FT_CHECK(bytes.size() <= m.options.max_message_bytes,
           "a message of " << bytes.size() << " bytes, above max_message_bytes " << m.options.max_message_bytes);
  const Handle h = m.new_op_locked(peer, tag, true);
  Impl::Op& op = m.ops[h];
  if (op.done) return h;
  op.out = bytes;
  Impl::Outgoing out;
  out.op = h;
  out.header = frame_header(FrameKind::kData, tag, bytes.size());
  out.body = bytes;
  m.peers[peer].sends.push_back(out);
  if (!m.peers[peer].writing) asio::post(m.io, [&m, peer] {
    std::lock_guard<std::mutex> l(m.mu);
    m.start_write_locked(peer);
  });
  return h;
}

TcpTransport::Handle TcpTransport::irecv(int peer, int tag, std::span<uint8_t> buffer) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  const Handle h = m.new_op_locked(peer, tag, false);
  Impl::Op& op = m.ops[h];
  if (op.done) return h;
  op.in = buffer;
  Impl::Peer& p = m.peers[peer];
  for (auto it = p.early.begin(); it != p.early.end(); ++it) {
    if (it->tag != tag || it->matched >= 0) continue;
    if (it->complete) {
      m.deliver_locked(h, *it);
      p.early_bytes -= it->length;
      p.early.erase(it);
    } else {
      it->matched = h;  // delivered when its last byte arrives
    }
    return h;
  }
  p.posted.push_back(h);
  return h;
}

void TcpTransport::Impl::deliver_locked(Handle h, Early& e) {
  Op& op = ops[h];
  if (e.data.size() > op.in.size()) {
    op.too_long = true;
  } else {
    if (!e.data.empty()) std::memcpy(op.in.data(), e.data.data(), e.data.size());
    op.bytes = e.data.size();
  }
  op.done = true;
}

size_t TcpTransport::Impl::finish_op_locked(Handle h) {
  Op& op = ops[h];
  FT_CHECK(op.live && op.done);
  const std::string error = op.error;
  const int peer = op.peer;
  const size_t bytes = op.too_long ? kTooLong : op.send ? 0 : op.bytes;
  op.live = false;
  free_ops.push_back(h);
  if (!error.empty()) throw PeerError(peer, error);
  return bytes;
}

size_t TcpTransport::wait(Handle h) {
  Handle one[1] = {h};
  size_t bytes = 0;
  wait_any(one, &bytes);
  return bytes;
}

bool TcpTransport::test(Handle h, size_t* bytes) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  FT_CHECK(h >= 0 && static_cast<size_t>(h) < m.ops.size() && m.ops[h].live, "test of handle " << h);
  if (!m.ops[h].done) return false;
  const size_t got = m.finish_op_locked(h);
  if (bytes != nullptr) *bytes = got;
  return true;
}

// Waits until one handle completes. The bound: a handle whose peer moved no
// byte in its direction (received for a receive, taken for a send) for
// peer_timeout_s since this wait began fails that peer.
size_t TcpTransport::wait_any(std::span<Handle> handles, size_t* bytes) { return wait_first(handles, bytes, false); }

size_t TcpTransport::wait_any_or_woken(std::span<Handle> handles, size_t* bytes) { return wait_first(handles, bytes, true); }

void TcpTransport::wake() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->woken = true;
  }
  impl_->cv.notify_all();
}

size_t TcpTransport::wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  const auto start = Clock::now();
  const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m.options.peer_timeout_s));
  while (true) {
    bool any = false;
    Clock::time_point earliest = Clock::time_point::max();
    size_t late = 0;
    for (size_t i = 0; i < handles.size(); ++i) {
      const Handle h = handles[i];
      if (h < 0) continue;
      FT_CHECK(static_cast<size_t>(h) < m.ops.size() && m.ops[h].live, "wait of handle " << h);
      any = true;
      const Impl::Op& op = m.ops[h];
      if (op.done) {
        handles[i] = -1;
        const size_t got = m.finish_op_locked(h);
        if (bytes != nullptr) *bytes = got;
        return i;
      }
      const Impl::Peer& p = m.peers[op.peer];
      const auto deadline = std::max(start, op.send ? p.last_out : p.last_in) + timeout;
      if (deadline < earliest) {
        earliest = deadline;
        late = i;
      }
    }
    FT_CHECK(any, "wait_any with nothing pending");
    if (wakeable && m.woken) {
      m.woken = false;
      return kWoken;
    }
    if (Clock::now() >= earliest) {
      const Impl::Op& op = m.ops[handles[late]];
      const int peer = op.peer;
      const std::string why = m.peers[peer].label + (op.send ? " took no bytes for " : " sent nothing for ") +
                              seconds_text(m.options.peer_timeout_s) +
                              " s (federation.peer_timeout_s): its leader stopped, hangs or cannot be reached";
      m.fail_from_caller(lock, peer, why);
      continue;  // its handles are failed now
    }
    m.cv.wait_until(lock, earliest);
  }
}

std::vector<PeerStats> TcpTransport::peer_stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<PeerStats> out;
  for (const auto& p : impl_->peers) out.push_back(p.stats);
  return out;
}

void TcpTransport::ping_peers() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  for (int p = 0; p < m.n_leaders; ++p) {
    if (p != m.self && m.peers[p].conn) m.enqueue_control_locked(p, FrameKind::kPing, now_ns());
  }
}

void TcpTransport::drop(int peer, const std::string& why) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  FT_CHECK(peer >= 0 && peer < m.n_leaders && peer != m.self);
  m.fail_from_caller(lock, peer, why);
}

void TcpTransport::Impl::fail_from_caller(std::unique_lock<std::mutex>& lock, int peer, const std::string& why) {
  const uint64_t ticket = ++fail_requests;
  asio::post(io, [this, peer, why] {
    std::lock_guard<std::mutex> l(mu);
    fail_peer_locked(peer, why);
    ++fail_done;
    cv.notify_all();
  });
  cv.wait(lock, [&] { return fail_done >= ticket; });
}

// ---- the I/O thread ----

void TcpTransport::Impl::fail_peer_locked(int peer, const std::string& why, bool closed) {
  Peer& p = peers[peer];
  if (p.conn) {
    boost::system::error_code ignored;
    p.conn->socket.close(ignored);
    p.conn.reset();
  }
  if (!p.failed) {
    p.failed = true;
    p.failure = why;
  }
  p.stats.connected = false;
  for (Op& op : ops) {
    if (op.live && !op.done && op.peer == peer) {
      op.done = true;
      op.error = p.failure;
    }
  }
  p.sends.clear();
  p.writing = false;
  p.posted.clear();
  if (closed) {
    std::erase_if(p.early, [](const Early& e) { return !e.complete || e.matched >= 0; });
  } else {
    p.early.clear();
  }
  p.early_bytes = 0;
  for (const Early& e : p.early) p.early_bytes += e.length;
  p.target = Target::kDrop;
  cv.notify_all();
}

void TcpTransport::Impl::enqueue_control_locked(int peer, FrameKind kind, uint64_t value) {
  Outgoing out;
  out.header = frame_header(kind, 0, net::kPingBytes);
  put_le(out.control.data(), value, 8);
  peers[peer].sends.push_back(out);
  if (!peers[peer].writing) asio::post(io, [this, peer] {
    std::lock_guard<std::mutex> l(mu);
    start_write_locked(peer);
  });
}

void TcpTransport::Impl::start_write_locked(int peer) {
  Peer& p = peers[peer];
  if (p.writing || !p.conn || p.sends.empty()) return;
  p.writing = true;
  auto c = p.conn;
  Outgoing& out = p.sends.front();
  // Control frames point at their own bytes (the deque keeps them in place until written).
  if (out.op < 0) out.body = std::span<const uint8_t>(out.control.data(), out.control.size());
  const size_t first = std::min(out.body.size(), kChunkBytes);
  std::array<asio::const_buffer, 2> bufs = {asio::buffer(out.header), asio::buffer(out.body.data(), first)};
  asio::async_write(c->socket, bufs, net::all_at_once, [this, peer, c, first](boost::system::error_code ec, size_t bytes) {
    std::lock_guard<std::mutex> l(mu);
    if (peers[peer].conn != c) return;
    if (ec) return fail_peer_locked(peer, peers[peer].label + ": the connection broke while sending (" + ec.message() + ")");
    Peer& q = peers[peer];
    q.stats.bytes_sent += bytes;
    q.last_out = Clock::now();
    q.sends.front().written = first;
    write_next(peer, c);
  });
}

// With `mu` held: the rest of the front frame, chunk by chunk, then the next frame.
void TcpTransport::Impl::write_next(int peer, std::shared_ptr<Conn> c) {
  Peer& p = peers[peer];
  Outgoing& out = p.sends.front();
  if (out.written == out.body.size()) {
    if (out.op >= 0) {
      ops[out.op].done = true;
      ++p.stats.messages_sent;
      cv.notify_all();
    }
    p.sends.pop_front();
    p.writing = false;
    start_write_locked(peer);
    return;
  }
  const size_t chunk = std::min(out.body.size() - out.written, kChunkBytes);
  asio::async_write(c->socket, asio::buffer(out.body.data() + out.written, chunk), net::all_at_once,
                    [this, peer, c, chunk](boost::system::error_code ec, size_t bytes) {
                      std::lock_guard<std::mutex> l(mu);
                      if (peers[peer].conn != c) return;
                      if (ec)
                        return fail_peer_locked(peer, peers[peer].label + ": the connection broke while sending (" +
                                                          ec.message() + ")");
                      Peer& q = peers[peer];
                      q.stats.bytes_sent += bytes;
                      q.last_out = Clock::now();
                      q.sends.front().written += chunk;
                      write_next(peer, c);
                    });
}

void TcpTransport::Impl::read_header(int peer, std::shared_ptr<Conn> c) {
  asio::async_read(c->socket, asio::buffer(c->header_in), [this, peer, c](boost::system::error_code ec, size_t bytes) {
    std::lock_guard<std::mutex> l(mu);
    if (peers[peer].conn != c) return;
    if (ec)
      return fail_peer_locked(peer,
                              peers[peer].label + (ec == asio::error::eof
                                                       ? " closed the connection (its leader stopped or restarted)"
                                                       : ": the connection broke (" + ec.message() + ")"),
                              /*closed=*/ec == asio::error::eof);
    peers[peer].stats.bytes_received += bytes;
    peers[peer].last_in = Clock::now();
    on_header(peer, c);
  });
}

// With `mu` held: a frame header arrived; decide where its body goes.
void TcpTransport::Impl::on_header(int peer, std::shared_ptr<Conn> c) {
  Peer& p = peers[peer];
  const uint8_t kind = c->header_in[0];
  const int tag = static_cast<int>(static_cast<int32_t>(get_le(c->header_in.data() + 4, 4)));
  const uint64_t length = get_le(c->header_in.data() + 8, 8);
  const bool control = kind == static_cast<uint8_t>(FrameKind::kPing) || kind == static_cast<uint8_t>(FrameKind::kPong);
  if (kind > static_cast<uint8_t>(FrameKind::kPong) || c->header_in[1] != 0 || c->header_in[2] != 0 ||
      c->header_in[3] != 0 || (control && length != net::kPingBytes))
    return fail_peer_locked(peer, p.label + " broke the framing of the leader protocol (a frame header of kind " +
                                      std::to_string(kind) + "); its connection is closed");
  if (control) {
    asio::async_read(c->socket, asio::buffer(c->control_in), [this, peer, c, kind](boost::system::error_code ec, size_t bytes) {
      std::lock_guard<std::mutex> l(mu);
      if (peers[peer].conn != c) return;
      if (ec) return fail_peer_locked(peer, peers[peer].label + ": the connection broke (" + ec.message() + ")");
      Peer& q = peers[peer];
      q.stats.bytes_received += bytes;
      const uint64_t value = get_le(c->control_in.data(), 8);
      if (kind == static_cast<uint8_t>(FrameKind::kPing)) enqueue_control_locked(peer, FrameKind::kPong, value);
      else q.stats.last_rtt_s = static_cast<double>(now_ns() - value) * 1e-9;
      read_header(peer, c);
    });
    return;
  }
  if (length > options.max_message_bytes)
    return fail_peer_locked(peer, p.label + " announced a message of " + std::to_string(length) +
                                      " bytes, more than the limit of " + std::to_string(options.max_message_bytes) +
                                      "; its connection is closed");
  p.body_left = length;
  p.body_done = 0;
  p.target = Target::kDrop;
  for (auto it = p.posted.begin(); it != p.posted.end(); ++it) {
    Op& op = ops[*it];
    if (op.tag != tag) continue;
    p.target_op = *it;
    p.posted.erase(it);
    if (length > op.in.size()) {
      op.too_long = true;  // read and dropped; the receive reports kTooLong
      c->scratch.resize(64 * 1024);
    } else {
      p.target = Target::kOp;
      op.bytes = length;
    }
    read_body(peer, c);
    return;
  }
  if (p.early_bytes + length > options.max_unexpected_bytes)
    return fail_peer_locked(peer, p.label + " sent " + std::to_string(p.early_bytes + length) +
                                      " bytes that this leader has not asked for, more than the limit of " +
                                      std::to_string(options.max_unexpected_bytes) + "; its connection is closed");
  p.early.push_back(Early{tag, length, {}, false, -1});
  p.early_bytes += length;
  p.target = Target::kEarly;
  p.target_early = std::prev(p.early.end());
  p.target_op = -1;
  read_body(peer, c);
}

// With `mu` held: the next chunk of the body, straight into its receive's buffer where one was posted.
void TcpTransport::Impl::read_body(int peer, std::shared_ptr<Conn> c) {
  Peer& p = peers[peer];
  if (p.body_left == 0) {
    finish_body_locked(peer);
    read_header(peer, c);
    return;
  }
  size_t chunk = static_cast<size_t>(std::min<uint64_t>(p.body_left, kChunkBytes));
  uint8_t* dst = nullptr;
  if (p.target == Target::kOp) {
    dst = ops[p.target_op].in.data() + p.body_done;
  } else if (p.target == Target::kEarly) {
    std::vector<uint8_t>& data = p.target_early->data;
    data.resize(p.body_done + chunk);  // grows with the bytes that come, not with the announced length
    dst = data.data() + p.body_done;
  } else {
    chunk = std::min(chunk, c->scratch.size());
    dst = c->scratch.data();
  }
  asio::async_read(c->socket, asio::buffer(dst, chunk), net::all_at_once, [this, peer, c](boost::system::error_code ec, size_t bytes) {
    std::lock_guard<std::mutex> l(mu);
    if (peers[peer].conn != c) return;
    if (ec)
      return fail_peer_locked(peer, peers[peer].label + (ec == asio::error::eof
                                                             ? " closed the connection in the middle of a message"
                                                             : ": the connection broke (" + ec.message() + ")"));
    Peer& q = peers[peer];
    q.stats.bytes_received += bytes;
    q.last_in = Clock::now();
    q.body_left -= bytes;
    q.body_done += bytes;
    read_body(peer, c);
  });
}

void TcpTransport::Impl::finish_body_locked(int peer) {
  Peer& p = peers[peer];
  ++p.stats.messages_received;
  if (p.target_op >= 0) {
    ops[p.target_op].done = true;
    p.target_op = -1;
  } else if (p.target == Target::kEarly) {
    Early& e = *p.target_early;
    e.complete = true;
    if (e.matched >= 0) {
      deliver_locked(e.matched, e);
      p.early_bytes -= e.length;
      p.early.erase(p.target_early);
    }
  }
  p.target = Target::kDrop;
  cv.notify_all();
}

void TcpTransport::Impl::close_all() {
  std::lock_guard<std::mutex> l(mu);
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (auto& p : peers) {
    if (p.conn) p.conn->socket.close(ignored);
    p.conn.reset();
  }
}

}  // namespace fedtrain
