// fedtrain_nfq_delay: holds every packet of one NFQUEUE queue for a fixed delay, then accepts it, in order.
//
//   fedtrain_nfq_delay --queue N --delay-ms MS [--maxlen PACKETS]
//
// bench/wan/sites.sh starts one in each emulated site's network namespace, behind the rule
// `iptables-legacy -t raw -A PREROUTING -i eth0 -j NFQUEUE --queue-num N --queue-bypass`: every
// packet the site receives waits MS ms (this kernel has no netem). Delaying on the receiver keeps
// the sender's TCP stack out of it; held on the sender's OUTPUT, TCP's small-queue limits stall.
//
// Protocol, step by step:
//   1. Bind queue N in copy mode NFQNL_COPY_META (the kernel sends the packet id and metadata, no
//      payload), queue length PACKETS (default 131072), flags NFQA_CFG_F_FAIL_OPEN (a full queue
//      lets packets through instead of dropping them) and NFQA_CFG_F_GSO (GSO packets are queued
//      whole, not segmented first: nothing here reads a payload). Print "ready" on stdout.
//   2. Read every queued-packet message there is and append (packet id, arrival time) to a FIFO.
//      Packets arrive in id order, and every packet waits the same time, so the FIFO is ordered by
//      deadline as well.
//   3. Take from the FIFO's front every packet whose deadline (arrival + MS) has passed and accept
//      them with one batch verdict on the last one's id: the kernel accepts all queued ids up to it,
//      in order, including any whose message was lost to a full netlink socket (ENOBUFS).
//   4. Sleep (ppoll, nanoseconds) until the socket is readable or the front's deadline comes; go to 2.
//   5. On SIGTERM or SIGINT accept everything held, unbind and exit 0. If the process dies instead,
//      the kernel drops what it held and, with --queue-bypass, lets new packets pass undelayed.
// Exit codes: 0 stopped by a signal, 2 bad usage, 1 a netfilter/netlink failure (said on stderr).
// glibc's <netinet/in.h> (via arpa/inet.h) before the kernel's headers, which then defer to it.
#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>
#include <linux/netfilter.h>  // NF_ACCEPT
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint16_t queue = 0;
  Clock::duration delay{};
  uint32_t maxlen = 131072;
};

struct Held {
  uint32_t id;
  Clock::time_point deadline;
};

struct State {
  Clock::duration delay{};
  std::deque<Held> fifo;
};

volatile sig_atomic_t g_stop = 0;  // set by the signal handler only
void on_signal(int) { g_stop = 1; }

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "fedtrain_nfq_delay: %s\nusage: fedtrain_nfq_delay --queue N --delay-ms MS [--maxlen PACKETS]\n", why);
  std::exit(2);
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fedtrain_nfq_delay: %s failed: %s (run as root in the namespace whose queue it serves;"
                       " the kernel needs CONFIG_NETFILTER_NETLINK_QUEUE)\n", what, std::strerror(errno));
  std::exit(1);
}

// A non-negative number up to MAX from argv (WHOLE: no fraction); usage() otherwise.
double parse_number(const char* flag, const char* text, double max, bool whole = true) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(v >= 0) || v > max || (whole && v != static_cast<long>(v))) {
    usage((std::string(flag) + " wants a " + (whole ? "whole " : "") + "number from 0 to " +
           std::to_string(static_cast<long>(max)) + ", not '" + text + "'").c_str());
  }
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool have_queue = false, have_delay = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + std::string(flag)).c_str());
    if (flag == "--queue") {
      o.queue = static_cast<uint16_t>(parse_number("--queue", argv[i + 1], 65535));
      have_queue = true;
    } else if (flag == "--delay-ms") {
      const double ms = parse_number("--delay-ms", argv[i + 1], 10000, false);
      o.delay = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
      have_delay = true;
    } else if (flag == "--maxlen") {
      o.maxlen = static_cast<uint32_t>(parse_number("--maxlen", argv[i + 1], 1 << 24));
    } else {
      usage(("unknown option '" + std::string(flag) + "'").c_str());
    }
  }
  if (!have_queue || !have_delay) usage("--queue and --delay-ms are required");
  return o;
}

// Step 2, per message: remember the packet; the verdict comes later.
int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* nfad, void* data) {
  auto* state = static_cast<State*>(data);
  const nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfad);
  if (ph != nullptr) state->fifo.push_back({ntohl(ph->packet_id), Clock::now() + state->delay});
  return 0;
}

struct HandleCloser {
  void operator()(nfq_handle* h) const { nfq_close(h); }
};
struct QueueCloser {
  void operator()(nfq_q_handle* q) const { nfq_destroy_queue(q); }
};
using Handle = std::unique_ptr<nfq_handle, HandleCloser>;
using Queue = std::unique_ptr<nfq_q_handle, QueueCloser>;

// Step 1.
Queue bind_queue(nfq_handle* h, const Options& o, State* state) {
  Queue q(nfq_create_queue(h, o.queue, &on_packet, state));
  if (!q) fail(("binding NFQUEUE queue " + std::to_string(o.queue) + " (is another helper bound to it?)").c_str());
  if (nfq_set_mode(q.get(), NFQNL_COPY_META, 0) < 0) fail("nfq_set_mode(NFQNL_COPY_META)");
  if (nfq_set_queue_maxlen(q.get(), o.maxlen) < 0) fail("nfq_set_queue_maxlen");
  const uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
  if (nfq_set_queue_flags(q.get(), flags, flags) < 0) fail("nfq_set_queue_flags(FAIL_OPEN | GSO)");
  // Room for a burst of metadata messages (about 100 bytes each) while verdicts are being sent.
  nfnl_rcvbufsiz(nfq_nfnlh(h), 64u << 20);
  return q;
}

// Step 2: the messages there are now, at most 1024 so that due packets are not kept waiting.
// Returns the number of ENOBUFS seen (messages lost).
long drain(nfq_handle* h, int fd) {
  alignas(8) static char buf[1 << 16];
  long lost = 0;
  for (int i = 0; i < 1024; ++i) {
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      nfq_handle_packet(h, buf, static_cast<int>(n));
    } else if (n < 0 && errno == ENOBUFS) {
      ++lost;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return lost;
    } else {
      fail("recv from the NFQUEUE socket");
    }
  }
  return lost;
}

// Step 3: accepts every packet due by NOW (all of them when NOW is max) with one batch verdict.
void release_due(nfq_q_handle* q, State& state, Clock::time_point now) {
  if (state.fifo.empty() || state.fifo.front().deadline > now) return;
  uint32_t last = 0;
  while (!state.fifo.empty() && state.fifo.front().deadline <= now) {
    last = state.fifo.front().id;
    state.fifo.pop_front();
  }
  if (nfq_set_verdict_batch(q, last, NF_ACCEPT) < 0) fail("nfq_set_verdict_batch(NF_ACCEPT)");
}

// Step 4: waits for the socket or the front's deadline; signals arrive only in here (ppoll's mask).
void wait_for_work(int fd, const State& state, const sigset_t& open_mask) {
  pollfd pfd{.fd = fd, .events = POLLIN, .revents = 0};
  timespec ts{};
  const timespec* timeout = nullptr;
  if (!state.fifo.empty()) {
    const auto left = std::max(Clock::duration::zero(), state.fifo.front().deadline - Clock::now());
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    timeout = &ts;
  }
  if (ppoll(&pfd, 1, timeout, &open_mask) < 0 && errno != EINTR) fail("ppoll");
}

// Signals are blocked outside ppoll, so a stop request cannot slip in between the check and the wait.
sigset_t block_stop_signals() {
  sigset_t stop, open_mask;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (sigprocmask(SIG_BLOCK, &stop, &open_mask) < 0) fail("sigprocmask");
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigdelset(&open_mask, SIGTERM);
  sigdelset(&open_mask, SIGINT);
  return open_mask;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const sigset_t open_mask = block_stop_signals();
  State state{.delay = options.delay, .fifo = {}};
  Handle handle(nfq_open());
  if (!handle) fail("nfq_open (a netfilter netlink socket)");
  Queue queue = bind_queue(handle.get(), options, &state);
  const int fd = nfq_fd(handle.get());
  std::printf("ready: queue %u, delay %.3f ms, up to %u packets held\n", options.queue,
              std::chrono::duration<double, std::milli>(options.delay).count(), options.maxlen);
  std::fflush(stdout);

  long lost = 0;
  while (!g_stop) {
    lost += drain(handle.get(), fd);
    release_due(queue.get(), state, Clock::now());
    wait_for_work(fd, state, open_mask);
  }
  release_due(queue.get(), state, Clock::time_point::max());  // step 5
  std::printf("stopped: %ld netlink overflow(s) (their packets went out with the next batch)\n", lost);
  return 0;
}
