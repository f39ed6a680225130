// The TCP leader transport's connections: listening, dialing with backoff, and the handshake on each new connection.
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "runtime/core/check.h"
#include "runtime/core/log.h"
#include "runtime/crypto/openssl_check.h"
#include "runtime/net/tcp_transport_impl.h"

namespace fedtrain {
namespace {

using net::Conn;
using net::Verdict;

std::string seconds_text(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

asio::mutable_buffer hello_rest(Conn& c) {
  return asio::buffer(c.hello_theirs.data() + net::kHelloPrefixBytes, c.hello_theirs.size() - net::kHelloPrefixBytes);
}

std::string endpoint_text(const tcp::endpoint& e) {
  std::ostringstream out;
  out << e;
  return out.str();
}

void set_socket_options(tcp::socket& s, int buffer_bytes) {
  boost::system::error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  if (buffer_bytes > 0) {
    s.set_option(asio::socket_base::send_buffer_size(buffer_bytes), ignored);
    s.set_option(asio::socket_base::receive_buffer_size(buffer_bytes), ignored);
  }
}

}  // namespace

TcpTransport::Impl::Impl(const TcpTransportOptions& o)
    : options(o), self(o.self), n_leaders(static_cast<int>(o.leaders.size())), work(io.get_executor()), acceptor(io) {
  if (o.manifest == nullptr || o.secret == nullptr)
    throw ConfigError("TCP leader transport: a manifest and this site's secret key are needed");
  if (o.manifest->size() != o.leaders.size())
    throw ConfigError("TCP leader transport: " + std::to_string(o.leaders.size()) + " leaders, but the manifest lists " +
                      std::to_string(o.manifest->size()) + " sites");
  if (self < 0 || self >= n_leaders) throw ConfigError("TCP leader transport: this site's index " + std::to_string(self) + " is not a leader");
  if (!(o.peer_timeout_s > 0) || !(o.connect_timeout_s > 0))
    throw ConfigError("TCP leader transport: federation.peer_timeout_s and federation.connect_timeout_s must be > 0");
  peers.resize(n_leaders);
  for (int i = 0; i < n_leaders; ++i) {
    Peer& p = peers[i];
    p.endpoint = o.leaders[i];
    if (p.endpoint.site != o.manifest->entry(i).site)
      throw ConfigError("TCP leader transport: leader " + std::to_string(i) + " is site '" + p.endpoint.site +
                        "', the manifest lists '" + o.manifest->entry(i).site + "' there");
    p.address = net::parse_host_port(p.endpoint.address, "[site." + p.endpoint.site + "] leader");
    p.label = "site " + p.endpoint.site + " (" + p.endpoint.address + ")";
    p.stats.site = p.endpoint.site;
    p.stats.address = p.endpoint.address;
  }
  settings_hash = sha256(o.settings_digest.data(), o.settings_digest.size());
}

TcpTransport::Impl::~Impl() {
  if (thread.joinable()) {
    asio::post(io, [this] {
      close_all();
      io.stop();
    });
    work.reset();
    thread.join();
  }
}

net::Hello TcpTransport::Impl::my_hello() const {
  net::Hello h;
  h.site = peers[self].endpoint.site;
  OSSL_CHECK(RAND_bytes(h.nonce.data(), static_cast<int>(h.nonce.size())));
  h.manifest_hash = options.manifest->hash();
  h.settings_hash = settings_hash;
  return h;
}

void TcpTransport::Impl::open_listener() {
  const Peer& me = peers[self];
  net::HostPort listen{"0.0.0.0", me.address.port};
  if (!me.endpoint.listen.empty()) listen = net::parse_host_port(me.endpoint.listen, "[site." + me.endpoint.site + "] listen");
  listen_text = (listen.host.find(':') != std::string::npos ? "[" + listen.host + "]" : listen.host) + ":" +
                std::to_string(listen.port);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(listen.host, std::to_string(listen.port), tcp::resolver::passive, ec);
  auto fail = [&](const std::string& what) {
    return Error("site " + me.endpoint.site + " cannot listen on " + listen_text + " (port " +
                 std::to_string(listen.port) + "): " + what +
                 "; another process holds the port, or the address is not this host's: pick another port in [site." +
                 me.endpoint.site + "] leader or listen");
  };
  if (ec || results.empty()) throw fail(ec ? ec.message() : "no such address");
  const tcp::endpoint ep = *results.begin();
  acceptor.open(ep.protocol(), ec);
  if (ec) throw fail(ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);  // a restarted leader rebinds at once (TIME_WAIT)
  if (options.socket_buffer_bytes > 0)
    acceptor.set_option(asio::socket_base::receive_buffer_size(options.socket_buffer_bytes), ec);
  acceptor.bind(ep, ec);
  if (ec) throw fail(ec.message());
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw fail(ec.message());
}

// Binds, starts the I/O thread, dials the higher-indexed leaders and waits for the lower ones.
void TcpTransport::Impl::connect() {
  open_listener();
  connect_deadline = Clock::now() + seconds(options.connect_timeout_s);
  thread = std::thread([this] { io.run(); });
  asio::post(io, [this] {
    accept_next();
    for (int p = self + 1; p < n_leaders; ++p) dial(p);
  });
  std::unique_lock<std::mutex> lock(mu);
  auto all_connected = [&] {
    for (int p = 0; p < n_leaders; ++p)
      if (p != self && !peers[p].conn) return false;
    return true;
  };
  cv.wait_until(lock, connect_deadline, [&] { return !fatal_message.empty() || all_connected(); });
  connecting = false;
  if (!fatal_message.empty()) {
    if (fatal_config) throw ConfigError(fatal_message);
    throw Error(fatal_message);
  }
  if (!all_connected()) {
    bool config = false;
    const std::string message = unconnected_message(&config);
    if (config) throw ConfigError(message);
    const bool any = std::any_of(peers.begin(), peers.end(), [](const Peer& p) { return p.conn != nullptr; });
    if (!options.start_without_unreached || !any) throw Error(message);
    unreached = message;
    for (int p = 0; p < n_leaders; ++p)  // on the I/O thread, where a dial to it may still be under way
      if (p != self && !peers[p].conn) fail_from_caller(lock, p, peers[p].label + " was not reached at start-up");
  }
}

std::string TcpTransport::unreached() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->unreached;
}

std::string TcpTransport::Impl::unconnected_message(bool* config) const {
  std::string out;
  for (int p = 0; p < n_leaders; ++p) {
    if (p == self || peers[p].conn) continue;
    const Peer& q = peers[p];
    if (!out.empty()) out += "; ";
    if (p > self) {
      out += "could not connect to " + q.label + " within federation.connect_timeout_s = " +
             seconds_text(options.connect_timeout_s) + " s (" + std::to_string(q.dial_attempts) + " attempts" +
             (q.last_error.empty() ? "" : ", the last: " + q.last_error) +
             "): check that its leader runs, that the address is right and that its firewall lets this site in";
    } else {
      out += q.label + " did not connect to this leader (listening on " + listen_text +
             ") within federation.connect_timeout_s = " + seconds_text(options.connect_timeout_s) + " s";
      if (!q.last_error.empty()) out += "; its last attempt was refused: " + q.last_error;
      else if (!anonymous_refusal.empty()) out += "; the last connection refused: " + anonymous_refusal;
    }
    *config = *config || q.config_refusal;
  }
  return out;
}

void TcpTransport::Impl::fatal(const std::string& message, bool config) {
  std::lock_guard<std::mutex> lock(mu);
  if (fatal_message.empty()) {
    fatal_message = message;
    fatal_config = config;
  }
  cv.notify_all();
}

// ---- dialing (the higher-indexed peers) ----

void TcpTransport::Impl::dial(int peer) {
  auto c = std::make_shared<Conn>(io);
  c->dialer = true;
  c->peer = peer;
  {
    std::lock_guard<std::mutex> lock(mu);
    ++peers[peer].dial_attempts;
  }
  auto resolver = std::make_shared<tcp::resolver>(io);
  const Peer& p = peers[peer];
  resolver->async_resolve(p.address.host, std::to_string(p.address.port),
                          [this, peer, c, resolver](boost::system::error_code ec, tcp::resolver::results_type results) {
                            if (ec) return dial_failed(peer, "cannot resolve the address: " + ec.message());
                            asio::async_connect(c->socket, results,
                                                [this, peer, c](boost::system::error_code ec2, const tcp::endpoint& e) {
                                                  if (ec2) return dial_failed(peer, ec2.message());
                                                  c->remote = endpoint_text(e);
                                                  set_socket_options(c->socket, options.socket_buffer_bytes);
                                                  dialer_start(c);
                                                });
                          });
}

void TcpTransport::redial(int peer) {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    FT_CHECK(peer >= 0 && peer < m.n_leaders && peer != m.self);
    if (peer < m.self || m.peers[peer].redialing || m.peers[peer].conn) return;
    m.peers[peer].redialing = true;
  }
  asio::post(m.io, [&m, peer] { m.dial(peer); });
}

// Retries with backoff (0.1 s doubling to 2 s) while the connect deadline allows.
void TcpTransport::Impl::dial_failed(int peer, const std::string& why) {
  int attempts;
  bool redialing;
  {
    std::lock_guard<std::mutex> lock(mu);
    peers[peer].last_error = why;
    if (peers[peer].conn) return;
    if (!connecting && !peers[peer].redialing) return;
    attempts = peers[peer].dial_attempts;
    redialing = peers[peer].redialing;
  }
  const double backoff = redialing ? 2.0 : std::min(2.0, 0.1 * std::pow(2.0, std::min(attempts - 1, 5)));
  if (!redialing && Clock::now() + seconds(backoff) >= connect_deadline) return;  // connect() reports it at the deadline
  auto timer = std::make_shared<asio::steady_timer>(io, seconds(backoff));
  timer->async_wait([this, peer, timer](boost::system::error_code ec) {
    if (!ec) dial(peer);
  });
}

void TcpTransport::Impl::arm_handshake_timer(const std::shared_ptr<Conn>& c) {
  c->timer.expires_after(seconds(options.peer_timeout_s));
  c->timer.async_wait([c](boost::system::error_code ec) {
    if (ec || !c->handshaking) return;
    boost::system::error_code ignored;
    c->socket.close(ignored);  // the pending read ends with operation_aborted, which reports the silence
  });
}

void TcpTransport::Impl::handshake_read(const std::shared_ptr<Conn>& c, asio::mutable_buffer b, const char* when, Step next) {
  asio::async_read(c->socket, b, [this, c, when, next](boost::system::error_code ec, size_t bytes) {
    if (ec) return handshake_io_failed(c, ec, when);
    c->handshake_in += bytes;
    (this->*next)(c);
  });
}

void TcpTransport::Impl::handshake_write(const std::shared_ptr<Conn>& c, std::vector<asio::const_buffer> b,
                                         const char* when, Step next) {
  asio::async_write(c->socket, b, [this, c, when, next](boost::system::error_code ec, size_t bytes) {
    if (ec) return handshake_io_failed(c, ec, when);
    c->handshake_out += bytes;
    (this->*next)(c);
  });
}

// A connection that broke or stayed silent in the handshake: the dialer dials
// again (until the connect deadline), the acceptor logs it and forgets it.
void TcpTransport::Impl::handshake_io_failed(const std::shared_ptr<Conn>& c, boost::system::error_code ec, const char* when) {
  c->handshaking = false;
  c->timer.cancel();
  boost::system::error_code ignored;
  c->socket.close(ignored);
  const std::string how = ec == asio::error::operation_aborted
                              ? "it sent nothing for " + seconds_text(options.peer_timeout_s) +
                                    " s (federation.peer_timeout_s) " + when
                          : ec == asio::error::eof ? std::string("it closed the connection ") + when
                                                   : "the connection broke (" + ec.message() + ") " + when;
  if (c->dialer) return dial_failed(c->peer, "connected, but in the handshake " + how);
  const std::string who = c->peer >= 0 ? " (claiming to be site " + peers[c->peer].endpoint.site + ")" : "";
  log_warn("leader transport: connection from " + c->remote + who + " dropped in the handshake: " + how);
}

// ---- the handshake, dialer's side: a definite answer (a refusal, a wrong
// name, another manifest, a failed proof) ends connecting with an error ----

void TcpTransport::Impl::dialer_refused(const std::shared_ptr<Conn>& c, const std::string& why, bool config) {
  c->handshaking = false;
  c->timer.cancel();
  bool redialing;
  {
    std::lock_guard<std::mutex> lock(mu);
    redialing = peers[c->peer].redialing;
  }
  if (redialing) {  // while running: a refusal is logged and the peer dialed again
    boost::system::error_code ignored;
    c->socket.close(ignored);
    log_warn("leader transport: " + peers[c->peer].label + " refused when dialed again: " + why);
    return dial_failed(c->peer, why);
  }
  fatal(peers[c->peer].label + ": " + why, config);
}

void TcpTransport::Impl::dialer_start(std::shared_ptr<Conn> c) {
  arm_handshake_timer(c);
  c->hello_mine = net::encode_hello(my_hello());
  c->hello_theirs.resize(net::kHelloPrefixBytes);
  c->t0 = Clock::now();
  handshake_write(c, {asio::buffer(c->hello_mine)}, "while this site sent its hello", &Impl::dialer_read_prefix);
}

void TcpTransport::Impl::dialer_read_prefix(std::shared_ptr<Conn> c) {
  handshake_read(c, asio::buffer(c->hello_theirs), "before its hello", &Impl::dialer_read_hello);
}

// The hello comes in two reads: its fixed prefix (which gives the name's length), then the rest.
// Returns false (and refuses) when the prefix is not one of this protocol.
bool TcpTransport::Impl::hello_prefix_ok(const std::shared_ptr<Conn>& c) {
  const net::HelloPrefix prefix = net::decode_hello_prefix(c->hello_theirs);
  if (!prefix.error.empty()) {
    if (c->dialer) dialer_refused(c, "the peer at that address is not a fedtrain leader: " + prefix.error, false);
    else refuse(c, Verdict::kBadHello, prefix.error, true);
    return false;
  }
  c->hello_theirs.resize(net::kHelloPrefixBytes + prefix.name_bytes + net::kHelloTailBytes);
  return true;
}

void TcpTransport::Impl::dialer_read_hello(std::shared_ptr<Conn> c) {
  if (!hello_prefix_ok(c)) return;
  handshake_read(c, hello_rest(*c), "in its hello", &Impl::dialer_check_hello);
}

void TcpTransport::Impl::dialer_check_hello(std::shared_ptr<Conn> c) {
  c->rtt_s = std::chrono::duration<double>(Clock::now() - c->t0).count();
  net::Hello theirs;
  const std::string bad = net::decode_hello(c->hello_theirs, &theirs);
  if (!bad.empty()) return dialer_refused(c, "the peer at that address is not a fedtrain leader: " + bad, false);
  const std::string& expected = peers[c->peer].endpoint.site;
  if (theirs.site != expected)
    return dialer_refused(c, "the leader at that address says it is site '" + theirs.site +
                                 "', but the config puts site '" + expected + "' there ([site." + expected + "] leader)",
                          true);
  if (theirs.manifest_hash != options.manifest->hash())
    return dialer_refused(c, "site " + expected + " holds another federation manifest (its hash " +
                                 to_hex(theirs.manifest_hash).substr(0, 16) + "..., this site's " +
                                 to_hex(options.manifest->hash()).substr(0, 16) +
                                 "...): every site must list the same sites and public keys, in the same order",
                          true);
  if (theirs.settings_hash != settings_hash)
    return dialer_refused(c, "site " + expected + " holds other federation settings (the settings digests differ)", true);
  c->keys = net::handshake_keys(*options.secret, options.manifest->entry(c->peer).public_key, options.manifest->hash(),
                                c->hello_mine, c->hello_theirs);
  handshake_read(c, asio::buffer(c->verdict_in), "before its proof", &Impl::dialer_check_proof);
}

void TcpTransport::Impl::dialer_check_proof(std::shared_ptr<Conn> c) {
  Verdict v;
  Key256 proof{};
  const std::string odd = net::decode_verdict(c->verdict_in, &v, &proof);
  if (!odd.empty()) return dialer_refused(c, odd, false);
  if (v != Verdict::kProof)
    return dialer_refused(c, "it refused this site's handshake: " + net::verdict_text(v), net::is_config_refusal(v));
  if (!(proof == c->keys.acceptor_proof)) {
    c->verdict_out = net::encode_verdict(Verdict::kBadProof);
    asio::async_write(c->socket, asio::buffer(c->verdict_out), [c](boost::system::error_code, size_t) {});
    return dialer_refused(c, "its handshake proof did not verify: one of the two sites does not hold the secret key "
                             "that the manifest lists for it (a wrong key file), an impostor answers at that "
                             "address, or the handshake was replayed",
                          true);
  }
  c->verdict_out = net::encode_verdict(Verdict::kProof, &c->keys.dialer_proof);
  handshake_write(c, {asio::buffer(c->verdict_out)}, "while this site sent its proof", &Impl::dialer_read_verdict);
}

void TcpTransport::Impl::dialer_read_verdict(std::shared_ptr<Conn> c) {
  handshake_read(c, asio::buffer(c->verdict_in), "before its verdict", &Impl::dialer_check_verdict);
}

void TcpTransport::Impl::dialer_check_verdict(std::shared_ptr<Conn> c) {
  Verdict v;
  Key256 ignored{};
  const std::string odd = net::decode_verdict(c->verdict_in, &v, &ignored);
  if (!odd.empty()) return dialer_refused(c, odd, false);
  if (v != Verdict::kAccepted)
    return dialer_refused(c, "it refused this site's handshake: " + net::verdict_text(v), net::is_config_refusal(v));
  install(c->peer, c);
}

// ---- accepting (the lower-indexed peers, at start and when they come back) ----

void TcpTransport::Impl::accept_next() {
  auto c = std::make_shared<Conn>(io);
  acceptor.async_accept(c->socket, [this, c](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      boost::system::error_code ignored;
      c->remote = endpoint_text(c->socket.remote_endpoint(ignored));
      set_socket_options(c->socket, options.socket_buffer_bytes);
      acceptor_start(c);
    }
    accept_next();
  });
}

// Refuses a connection: logs why, remembers it for the connect error, sends
// the verdict (after this site's hello if the peer has not had it) and closes.
void TcpTransport::Impl::refuse(const std::shared_ptr<Conn>& c, Verdict v, const std::string& why, bool send_hello) {
  c->handshaking = false;
  c->timer.cancel();
  const std::string text = "connection from " + c->remote + " refused: " + why;
  log_warn("leader transport: " + text);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (c->peer >= 0) {
      peers[c->peer].last_error = why;
      peers[c->peer].config_refusal = net::is_config_refusal(v);
    } else {
      anonymous_refusal = text;
    }
  }
  c->verdict_out = net::encode_verdict(v);
  std::vector<asio::const_buffer> bufs;
  if (send_hello) bufs.push_back(asio::buffer(c->hello_mine));
  bufs.push_back(asio::buffer(c->verdict_out));
  asio::async_write(c->socket, bufs, [c](boost::system::error_code, size_t) {
    boost::system::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
  });
}

// ---- the handshake, acceptor's side: nothing a connection sends ends this
// leader; a refused one is logged and closed, and the lower-indexed leaders'
// own connections are still awaited ----

void TcpTransport::Impl::acceptor_start(std::shared_ptr<Conn> c) {
  arm_handshake_timer(c);
  c->hello_mine = net::encode_hello(my_hello());
  c->hello_theirs.resize(net::kHelloPrefixBytes);
  handshake_read(c, asio::buffer(c->hello_theirs), "before its hello", &Impl::acceptor_read_hello);
}

void TcpTransport::Impl::acceptor_read_hello(std::shared_ptr<Conn> c) {
  if (!hello_prefix_ok(c)) return;
  handshake_read(c, hello_rest(*c), "in its hello", &Impl::acceptor_check_hello);
}

void TcpTransport::Impl::acceptor_check_hello(std::shared_ptr<Conn> c) {
  net::Hello theirs;
  const std::string bad = net::decode_hello(c->hello_theirs, &theirs);
  if (!bad.empty()) return refuse(c, Verdict::kBadHello, bad, true);
  int peer = -1;
  for (int i = 0; i < n_leaders; ++i)
    if (peers[i].endpoint.site == theirs.site) peer = i;
  if (peer < 0)
    return refuse(c, Verdict::kUnknownSite, "it claims to be site '" + theirs.site + "', which is not in the manifest", true);
  if (peer >= self)
    return refuse(c, Verdict::kUnexpectedSite,
                  "it claims to be site '" + theirs.site + "', which this leader dials itself (the lower index dials)", true);
  c->peer = peer;
  if (theirs.manifest_hash != options.manifest->hash())
    return refuse(c, Verdict::kOtherManifest,
                  "site " + theirs.site + " holds another federation manifest (its hash " +
                      to_hex(theirs.manifest_hash).substr(0, 16) + "..., this site's " +
                      to_hex(options.manifest->hash()).substr(0, 16) + "...)",
                  true);
  if (theirs.settings_hash != settings_hash)
    return refuse(c, Verdict::kOtherSettings, "site " + theirs.site + " holds other federation settings", true);
  c->keys = net::handshake_keys(*options.secret, options.manifest->entry(peer).public_key, options.manifest->hash(),
                                c->hello_theirs, c->hello_mine);
  c->verdict_out = net::encode_verdict(Verdict::kProof, &c->keys.acceptor_proof);
  handshake_write(c, {asio::buffer(c->hello_mine), asio::buffer(c->verdict_out)}, "while this leader sent its hello",
                  &Impl::acceptor_read_proof);
}

void TcpTransport::Impl::acceptor_read_proof(std::shared_ptr<Conn> c) {
  c->t0 = Clock::now();
  handshake_read(c, asio::buffer(c->verdict_in), "before its proof", &Impl::acceptor_check_proof);
}

void TcpTransport::Impl::acceptor_check_proof(std::shared_ptr<Conn> c) {
  c->rtt_s = std::chrono::duration<double>(Clock::now() - c->t0).count();
  const std::string& site = peers[c->peer].endpoint.site;
  Verdict v;
  Key256 proof{};
  const std::string odd = net::decode_verdict(c->verdict_in, &v, &proof);
  if (!odd.empty()) return refuse(c, Verdict::kBadHello, odd, false);
  if (v != Verdict::kProof) {
    c->handshaking = false;
    c->timer.cancel();
    const std::string why = "site " + site + " refused this leader's handshake: " + net::verdict_text(v);
    log_warn("leader transport: " + why + " (from " + c->remote + ")");
    std::lock_guard<std::mutex> lock(mu);
    peers[c->peer].last_error = why;
    peers[c->peer].config_refusal = net::is_config_refusal(v);
    return;
  }
  if (!(proof == c->keys.dialer_proof))
    return refuse(c, Verdict::kBadProof,
                  "it claims to be site " + site +
                      ", but its handshake proof did not verify: a wrong key, an impostor, or a replayed handshake",
                  false);
  c->verdict_out = net::encode_verdict(Verdict::kAccepted);
  handshake_write(c, {asio::buffer(c->verdict_out)}, "while this leader accepted it", &Impl::acceptor_accepted);
}

void TcpTransport::Impl::acceptor_accepted(std::shared_ptr<Conn> c) { install(c->peer, c); }

// A connection that passed the handshake becomes the peer's connection (replacing an earlier one).
void TcpTransport::Impl::install(int peer, std::shared_ptr<Conn> c) {
  c->handshaking = false;
  c->timer.cancel();
  std::lock_guard<std::mutex> lock(mu);
  Peer& p = peers[peer];
  if (p.ever_connected) {
    if (p.conn)
      fail_peer_locked(peer, p.label + " connected again (its leader restarted?): what was in flight on the old "
                                       "connection is lost");
    ++p.stats.reconnects;
    log_info("leader transport: " + p.label + " connected again from " + c->remote);
  }
  p.conn = c;
  p.ever_connected = true;
  p.redialing = false;
  p.failed = false;
  p.failure.clear();
  p.last_error.clear();
  p.config_refusal = false;
  p.stats.connected = true;
  p.stats.bytes_sent += c->handshake_out;
  p.stats.bytes_received += c->handshake_in;
  p.stats.last_rtt_s = c->rtt_s;
  p.last_in = p.last_out = Clock::now();
  p.target = Target::kDrop;
  p.target_op = -1;
  cv.notify_all();
  read_header(peer, c);
  start_write_locked(peer);
}

}  // namespace fedtrain
