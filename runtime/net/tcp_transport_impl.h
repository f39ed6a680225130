// Inside the TCP leader transport: the state shared by the caller's thread and the I/O thread.
//
// Threads: the caller (isend, irecv, wait, ...) and one I/O thread that runs
// the io_context (accept, dial, handshakes, framing). Everything below `mu`
// is guarded by it; sockets and Conn are touched on the I/O thread only. A
// caller that gives up on a peer (timeout, drop) asks the I/O thread to close
// it and waits until that ran: from then on no byte lands in the buffers of
// that peer's handles. tcp_transport.cc holds the message path,
// tcp_connect.cc the connection set-up and the handshake.
#pragma once

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without it (Boost 1.74, GCC 12)

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/net/host_port.h"
#include "runtime/net/leader_handshake.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace net {

// Frame header: kind u8 | 3 zero bytes | tag i32 LE | length u64 LE.
inline constexpr size_t kFrameHeaderBytes = 16;
enum class FrameKind : uint8_t { kData = 0, kPing = 1, kPong = 2 };
inline constexpr size_t kPingBytes = 8;
inline constexpr size_t kChunkBytes = size_t{4} << 20;  // socket reads and writes, so that progress is seen

// The completion condition of every frame read and write: Asio's default
// (transfer_all) hands the socket at most 64 KiB per system call, so a 1 MiB
// message took 16 sendmsg and 16 recv calls, each a trip through the reactor
// (a quarter of Open MPI's speed at 1-4 MiB on loopback). This one offers the
// kernel everything that is left; the kernel takes what its buffers hold.
inline size_t all_at_once(const boost::system::error_code& ec, size_t /*bytes_so_far*/) { return ec ? 0 : SIZE_MAX; }

// One TCP connection (I/O thread only): its handshake and, once installed, its framing state.
struct Conn {
  explicit Conn(asio::io_context& io) : socket(io), timer(io) {}
  tcp::socket socket;
  asio::steady_timer timer;  // handshake deadline
  bool dialer = false;
  int peer = -1;             // known at once when dialing, after the hello when accepting
  std::string remote;        // "127.0.0.1:40312"
  bool handshaking = true;
  std::vector<uint8_t> hello_mine, hello_theirs;
  std::array<uint8_t, kVerdictBytes> verdict_in{}, verdict_out{};
  HandshakeKeys keys;
  Clock::time_point t0;
  uint64_t handshake_out = 0, handshake_in = 0;
  double rtt_s = -1.0;
  // Framing: the message being read.
  std::array<uint8_t, kFrameHeaderBytes> header_in{};
  std::array<uint8_t, kPingBytes> control_in{};
  std::vector<uint8_t> scratch;  // where the body of a too-long message is read and dropped
};

}  // namespace net

struct TcpTransport::Impl {
  struct Op {
    bool live = false, done = false, send = false, too_long = false;
    int peer = -1, tag = 0;
    std::span<const uint8_t> out;
    std::span<uint8_t> in;
    size_t bytes = 0;
    std::string error;
  };
  // A message that arrived before its receive was posted; it grows as its bytes arrive.
  struct Early {
    int tag = 0;
    uint64_t length = 0;
    std::vector<uint8_t> data;
    bool complete = false;
    Handle matched = -1;  // a receive that took it while it was still arriving
  };
  // One frame waiting to be written: a caller's send (op >= 0), or a ping/pong the transport owns.
  struct Outgoing {
    Handle op = -1;
    std::array<uint8_t, net::kFrameHeaderBytes> header{};
    std::array<uint8_t, net::kPingBytes> control{};
    std::span<const uint8_t> body;
    size_t written = 0;  // of the body
  };
  enum class Target { kOp, kEarly, kDrop };
  struct Peer {
    LeaderEndpoint endpoint;
    net::HostPort address;
    std::string label;  // "site de (10.0.0.2:29500)"
    std::shared_ptr<net::Conn> conn;
    bool ever_connected = false, failed = false;
    std::string failure;
    std::deque<Outgoing> sends;
    bool writing = false;
    std::deque<Handle> posted;
    std::list<Early> early;
    uint64_t early_bytes = 0;
    // The message being read: where its body goes.
    Target target = Target::kDrop;
    Handle target_op = -1;
    std::list<Early>::iterator target_early;
    uint64_t body_left = 0, body_done = 0;
    Clock::time_point last_in, last_out;
    PeerStats stats;
    // Connecting: why the last attempt failed; whether that shows a misconfiguration.
    std::string last_error;
    bool config_refusal = false;
    int dial_attempts = 0;
    bool redialing = false;  // lost while running: dialed again until it answers (redial())
  };

  explicit Impl(const TcpTransportOptions& options);
  ~Impl();

  // tcp_connect.cc
  void connect();
  void open_listener();
  void accept_next();
  void dial(int peer);
  void dial_failed(int peer, const std::string& why);
  // The handshake's steps (leader_handshake.h), each a read or a write and then the next step.
  using Step = void (Impl::*)(std::shared_ptr<net::Conn>);
  void handshake_read(const std::shared_ptr<net::Conn>& c, asio::mutable_buffer b, const char* when, Step next);
  void handshake_write(const std::shared_ptr<net::Conn>& c, std::vector<asio::const_buffer> b, const char* when, Step next);
  void handshake_io_failed(const std::shared_ptr<net::Conn>& c, boost::system::error_code ec, const char* when);
  void arm_handshake_timer(const std::shared_ptr<net::Conn>& c);
  void dialer_start(std::shared_ptr<net::Conn> c);
  bool hello_prefix_ok(const std::shared_ptr<net::Conn>& c);
  void dialer_read_prefix(std::shared_ptr<net::Conn> c);
  void dialer_read_hello(std::shared_ptr<net::Conn> c);
  void dialer_check_hello(std::shared_ptr<net::Conn> c);
  void dialer_check_proof(std::shared_ptr<net::Conn> c);
  void dialer_read_verdict(std::shared_ptr<net::Conn> c);
  void dialer_check_verdict(std::shared_ptr<net::Conn> c);
  void dialer_refused(const std::shared_ptr<net::Conn>& c, const std::string& why, bool config);
  void acceptor_start(std::shared_ptr<net::Conn> c);
  void acceptor_read_hello(std::shared_ptr<net::Conn> c);
  void acceptor_check_hello(std::shared_ptr<net::Conn> c);
  void acceptor_read_proof(std::shared_ptr<net::Conn> c);
  void acceptor_check_proof(std::shared_ptr<net::Conn> c);
  void acceptor_accepted(std::shared_ptr<net::Conn> c);
  void refuse(const std::shared_ptr<net::Conn>& c, net::Verdict v, const std::string& why, bool send_hello);
  void fatal(const std::string& message, bool config);
  void install(int peer, std::shared_ptr<net::Conn> c);
  std::string unconnected_message(bool* config) const;
  net::Hello my_hello() const;

  // tcp_transport.cc (I/O thread; `mu` held where named *_locked)
  void start_write_locked(int peer);
  void write_next(int peer, std::shared_ptr<net::Conn> c);
  void read_header(int peer, std::shared_ptr<net::Conn> c);
  void on_header(int peer, std::shared_ptr<net::Conn> c);
  void read_body(int peer, std::shared_ptr<net::Conn> c);
  void finish_body_locked(int peer);
  void deliver_locked(Handle h, Early& e);
  // Fails every pending operation with `peer`. A peer that closed its connection cleanly, at a frame
  // boundary (`closed`), keeps the messages it had sent in full: a leader that sends its last message
  // and exits must not lose it; receives they can match still complete.
  void fail_peer_locked(int peer, const std::string& why, bool closed = false);
  void close_all();
  // Caller's thread: fails `peer` on the I/O thread and waits until it ran.
  void fail_from_caller(std::unique_lock<std::mutex>& lock, int peer, const std::string& why);
  Handle new_op_locked(int peer, int tag, bool send);
  size_t finish_op_locked(Handle h);
  void enqueue_control_locked(int peer, net::FrameKind kind, uint64_t value);

  TcpTransportOptions options;
  int self, n_leaders;
  Sha256Digest settings_hash{};
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  std::string listen_text;
  std::thread thread;
  Clock::time_point connect_deadline;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<Peer> peers;
  std::vector<Op> ops;
  std::vector<Handle> free_ops;
  bool connecting = true;
  std::string fatal_message;
  bool fatal_config = false;
  std::string anonymous_refusal;  // the last refused connection that named no known peer
  std::string unreached;          // start_without_unreached: why peers were not reached
  uint64_t fail_requests = 0, fail_done = 0;
  bool woken = false;  // wake() called since the last wait_any_or_woken that returned kWoken
};

}  // namespace fedtrain
