// The TCP leader transport refuses what it must, naming the site: wrong key, another manifest, a replayed handshake, garbage, a silent or closing peer, a taken port, an unreachable address.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <boost/asio.hpp>
#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/net/leader_handshake.h"
#include "tests/support/tcp_leaders.h"

namespace fedtrain {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using testing::run_threads;
using testing::TcpLeaders;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
int port_of(const LeaderEndpoint& e) { return std::stoi(e.address.substr(e.address.rfind(':') + 1)); }

// Connects leader i with options `o`, returning the error text ("" when it connected) and whether it was a ConfigError.
struct Outcome {
  std::string error;
  bool config = false;
};
Outcome try_connect(const TcpTransportOptions& o) {
  try {
    auto t = connect_tcp_transport(o);
    return {};
  } catch (const ConfigError& e) {
    return {e.what(), true};
  } catch (const Error& e) {
    return {e.what(), false};
  }
}

TEST(TcpHandshake, ALeaderWithTheWrongKeyIsRefusedOnBothSidesNamingTheSite) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 3;
  const SecretKey impostor = SecretKey::generate();
  Outcome out[2];
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 1) o.secret = &impostor;  // s1 does not hold the key the manifest lists for it
    out[i] = try_connect(o);
  });
  EXPECT_TRUE(out[0].config) << out[0].error;
  EXPECT_TRUE(has(out[0].error, "site s1 (" + fed.endpoints[1].address + ")")) << out[0].error;
  EXPECT_TRUE(has(out[0].error, "its handshake proof did not verify")) << out[0].error;
  EXPECT_TRUE(out[1].config) << out[1].error;
  EXPECT_TRUE(has(out[1].error, "site s0")) << out[1].error;
  EXPECT_TRUE(has(out[1].error, "proof did not verify")) << out[1].error;
}

TEST(TcpHandshake, ADialerWithTheWrongKeyIsRefused) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 3;
  const SecretKey impostor = SecretKey::generate();
  Outcome out[2];
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 0) o.secret = &impostor;
    out[i] = try_connect(o);
  });
  // Static-static X25519: the dialer verifies first, so it is the one that sees the proofs disagree.
  EXPECT_TRUE(out[0].config) << out[0].error;
  EXPECT_TRUE(has(out[0].error, "site s1")) << out[0].error;
  EXPECT_TRUE(has(out[0].error, "its handshake proof did not verify")) << out[0].error;
  EXPECT_TRUE(out[1].config) << out[1].error;
  EXPECT_TRUE(has(out[1].error, "site s0 refused this leader's handshake")) << out[1].error;
}

TEST(TcpHandshake, AnotherManifestIsRefusedSayingSo) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 3;
  const Manifest other({{"s0", SecretKey::generate().public_key()}, {"s1", fed.keys[1].public_key()}});
  Outcome out[2];
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 1) o.manifest = &other;
    out[i] = try_connect(o);
  });
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(out[i].config) << out[i].error;
    EXPECT_TRUE(has(out[i].error, "holds another federation manifest")) << out[i].error;
  }
  EXPECT_TRUE(has(out[0].error, "site s1")) << out[0].error;
  EXPECT_TRUE(has(out[1].error, "site s0")) << out[1].error;
}

TEST(TcpHandshake, OtherSettingsAreRefused) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 3;
  Outcome out[2];
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    o.settings_digest = i == 0 ? "secure = true" : "secure = false";
    out[i] = try_connect(o);
  });
  EXPECT_TRUE(out[0].config && has(out[0].error, "site s1") && has(out[0].error, "other federation settings"))
      << out[0].error;
}

TEST(TcpHandshake, TheLeaderAtAnAddressMustBeTheSiteTheConfigPutsThere) {
  TcpLeaders fed(3);
  fed.connect_timeout_s = 3;
  Outcome out[3];
  run_threads(3, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 0) o.leaders[1].address = fed.endpoints[2].address;  // s0 thinks s1 is where s2 listens
    out[i] = try_connect(o);
  });
  EXPECT_TRUE(out[0].config) << out[0].error;
  EXPECT_TRUE(has(out[0].error, "says it is site 's2', but the config puts site 's1' there")) << out[0].error;
}

// Forwards one connection to `target`, recording what each side sent.
struct RecordingProxy {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::vector<uint8_t> dialer_bytes, acceptor_bytes;
  std::thread thread;
  explicit RecordingProxy(int target) {
    thread = std::thread([this, target] {
      tcp::socket in(io), out(io);
      acceptor.accept(in);
      // The dialer may reach the proxy before the target listens: retry (a refused connect, unhandled
      // here, ended the whole test binary now and then).
      const tcp::endpoint to(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(target));
      boost::system::error_code refused;
      for (int i = 0; i < 1000; ++i) {
        out.connect(to, refused);
        if (!refused) break;
        out = tcp::socket(io);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (refused) return;  // the dialer then fails its handshake, and the test says so
      auto pump = [](tcp::socket& from, tcp::socket& to, std::vector<uint8_t>& log) {
        uint8_t buf[4096];
        boost::system::error_code ec;
        while (true) {
          const size_t n = from.read_some(asio::buffer(buf), ec);
          if (ec) break;
          log.insert(log.end(), buf, buf + n);
          asio::write(to, asio::buffer(buf, n), ec);
          if (ec) break;
        }
        to.shutdown(tcp::socket::shutdown_send, ec);
      };
      std::thread back([&] { pump(out, in, acceptor_bytes); });
      pump(in, out, dialer_bytes);
      back.join();
    });
  }
  int port() const { return acceptor.local_endpoint().port(); }
};

TEST(TcpHandshake, ARecordedHandshakeReplayedToEitherSideIsRefused) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 3;
  const size_t hello_bytes = net::kHelloPrefixBytes + 2 + net::kHelloTailBytes;  // names "s0", "s1"
  RecordingProxy proxy(port_of(fed.endpoints[1]));
  {
    std::vector<std::unique_ptr<TcpTransport>> t(2);
    run_threads(2, [&](int i) {
      TcpTransportOptions o = fed.options(i);
      if (i == 0) o.leaders[1].address = "127.0.0.1:" + std::to_string(proxy.port());
      t[i] = connect_tcp_transport(o);
    });
  }  // both closed: the proxy sees the ends of the streams
  proxy.thread.join();
  ASSERT_GE(proxy.dialer_bytes.size(), hello_bytes + net::kVerdictBytes);
  ASSERT_GE(proxy.acceptor_bytes.size(), hello_bytes + 2 * net::kVerdictBytes);

  // 1. To the acceptor: s0's recorded hello and proof, against s1's fresh nonce.
  Outcome acceptor_out;
  std::thread s1([&] { acceptor_out = try_connect(fed.options(1)); });
  asio::io_context io;
  tcp::socket fake(io);
  for (int i = 0; i < 200; ++i) {
    boost::system::error_code ec;
    fake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[1]))), ec);
    if (!ec) break;
    fake = tcp::socket(io);
    std::this_thread::sleep_for(10ms);
  }
  asio::write(fake, asio::buffer(proxy.dialer_bytes.data(), hello_bytes));
  std::vector<uint8_t> reply(hello_bytes + net::kVerdictBytes);
  asio::read(fake, asio::buffer(reply));
  asio::write(fake, asio::buffer(proxy.dialer_bytes.data() + hello_bytes, net::kVerdictBytes));
  std::vector<uint8_t> verdict(net::kVerdictBytes);
  asio::read(fake, asio::buffer(verdict));
  EXPECT_EQ(verdict[0], static_cast<uint8_t>(net::Verdict::kBadProof));
  s1.join();
  EXPECT_TRUE(acceptor_out.config) << acceptor_out.error;
  EXPECT_TRUE(has(acceptor_out.error, "site s0")) << acceptor_out.error;
  EXPECT_TRUE(has(acceptor_out.error, "replayed handshake")) << acceptor_out.error;

  // 2. To the dialer: s1's recorded hello and proof, against s0's fresh nonce.
  tcp::acceptor fake_s1(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[1]))));
  Outcome dialer_out;
  std::thread s0([&] { dialer_out = try_connect(fed.options(0)); });
  tcp::socket in(io);
  fake_s1.accept(in);
  std::vector<uint8_t> hello(hello_bytes);
  asio::read(in, asio::buffer(hello));
  asio::write(in, asio::buffer(proxy.acceptor_bytes.data(), hello_bytes + net::kVerdictBytes));
  s0.join();
  EXPECT_TRUE(dialer_out.config) << dialer_out.error;
  EXPECT_TRUE(has(dialer_out.error, "site s1 (" + fed.endpoints[1].address + ")")) << dialer_out.error;
  EXPECT_TRUE(has(dialer_out.error, "the handshake was replayed")) << dialer_out.error;
}

TEST(TcpHandshake, GarbageNeverEndsTheAcceptorAndARealLeaderStillConnects) {
  TcpLeaders fed(2);
  fed.connect_timeout_s = 20;
  fed.peer_timeout_s = 2;
  std::unique_ptr<TcpTransport> t1;
  std::thread s1([&] { t1 = connect_tcp_transport(fed.options(1)); });
  asio::io_context io;
  const tcp::endpoint target(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[1])));
  std::vector<std::vector<uint8_t>> garbage;
  for (size_t n : {1, 7, 8, 64, 300, 5000}) {
    std::vector<uint8_t> g(n);
    RAND_bytes(g.data(), static_cast<int>(n));
    garbage.push_back(g);
  }
  // A hello that claims a name of 255 bytes and stops; one with a good prefix and random rest.
  garbage.push_back({'F', 'T', 'L', 'H', 1, 1, 0, 255, 'x'});
  std::vector<uint8_t> good_prefix = {'F', 'T', 'L', 'H', 1, 1, 0, 2, 's', '0'};
  good_prefix.resize(good_prefix.size() + 96 + 33, 0xAB);
  garbage.push_back(good_prefix);
  for (const auto& g : garbage) {
    tcp::socket s(io);
    boost::system::error_code ec;
    for (int i = 0; i < 200; ++i) {
      s.connect(target, ec);
      if (!ec) break;
      s = tcp::socket(io);
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_FALSE(ec) << ec.message();
    asio::write(s, asio::buffer(g), ec);
    s.shutdown(tcp::socket::shutdown_send, ec);
    uint8_t buf[512];
    while (!ec) s.read_some(asio::buffer(buf), ec);  // until the acceptor closes it
  }
  std::unique_ptr<TcpTransport> t0 = connect_tcp_transport(fed.options(0));
  s1.join();
  ASSERT_TRUE(t1);
  EXPECT_TRUE(t0->peer_stats()[1].connected);
}

TEST(TcpHandshake, ADialerThatMeetsGarbageSaysTheAddressIsNoFedtrainLeader) {
  TcpLeaders fed(2);
  asio::io_context io;
  tcp::acceptor fake(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[1]))));
  Outcome out;
  std::thread s0([&] { out = try_connect(fed.options(0)); });
  tcp::socket in(io);
  fake.accept(in);
  const std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
  boost::system::error_code ec;
  asio::write(in, asio::buffer(http), ec);
  s0.join();
  EXPECT_FALSE(out.config) << out.error;
  EXPECT_TRUE(has(out.error, "site s1 (" + fed.endpoints[1].address + "): the peer at that address is not a fedtrain leader"))
      << out.error;
}

TEST(TcpHandshake, APeerSilentInTheHandshakeEndsConnectingNamingIt) {
  TcpLeaders fed(2);
  fed.peer_timeout_s = 1;
  fed.connect_timeout_s = 2.5;
  asio::io_context io;
  tcp::acceptor fake(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[1]))));
  std::vector<tcp::socket> held;
  std::atomic<bool> done{false};
  // Accepts every attempt and never says a word. It polls (a nonblocking accept) rather than blocking,
  // because closing an acceptor from another thread does not reliably end a blocking accept.
  fake.non_blocking(true);
  std::thread holder([&] {
    while (!done) {
      tcp::socket s(io);
      boost::system::error_code ec;
      fake.accept(s, ec);
      if (!ec) held.push_back(std::move(s));
      else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  const auto t = Clock::now();
  const Outcome out = try_connect(fed.options(0));
  const double took = since(t);
  done = true;
  holder.join();
  fake.close();
  EXPECT_FALSE(out.config) << out.error;
  EXPECT_TRUE(has(out.error, "site s1 (" + fed.endpoints[1].address + ")")) << out.error;
  EXPECT_TRUE(has(out.error, "sent nothing for 1 s")) << out.error;
  EXPECT_LT(took, 2.5 + 30);  // the connect deadline plus generous slack for a loaded machine
}

TEST(TcpTransportFailures, ASilentPeerEndsAWaitWithinPeerTimeoutNamingIt) {
  TcpLeaders fed(2);
  fed.peer_timeout_s = 1;
  auto t = fed.connect_all();
  std::vector<uint8_t> buf(10);
  const auto start = Clock::now();
  try {
    t[0]->wait(t[0]->irecv(1, 1, buf));  // s1 never sends
    FAIL() << "no error";
  } catch (const PeerError& e) {
    EXPECT_EQ(e.peer(), 1);
    EXPECT_TRUE(has(e.what(), "site s1 (" + fed.endpoints[1].address + ") sent nothing for 1 s")) << e.what();
  }
  const double took = since(start);
  EXPECT_GE(took, 1.0);
  EXPECT_LT(took, 1.0 + 30);  // generous slack for a loaded machine
  // The peer is failed: later handles to it fail at once, the transport itself still works.
  EXPECT_THROW(t[0]->wait(t[0]->irecv(1, 2, buf)), PeerError);
  EXPECT_FALSE(t[0]->peer_stats()[1].connected);
}

TEST(TcpTransportFailures, APeerThatClosesFailsThePendingWaitNamingIt) {
  TcpLeaders fed(3);
  auto t = fed.connect_all();
  std::vector<uint8_t> buf(10), other(10);
  Transport::Handle from_s2 = t[0]->irecv(2, 1, other);
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    t[1].reset();
  });
  try {
    t[0]->wait(t[0]->irecv(1, 1, buf));
    FAIL() << "no error";
  } catch (const PeerError& e) {
    EXPECT_EQ(e.peer(), 1);
    EXPECT_TRUE(has(e.what(), "site s1 (" + fed.endpoints[1].address + ") closed the connection")) << e.what();
  }
  closer.join();
  // s2 is untouched: its pending receive still completes.
  std::vector<uint8_t> m = {4, 2};
  t[2]->wait(t[2]->isend(0, 1, m));
  EXPECT_EQ(t[0]->wait(from_s2), 2u);
}

TEST(TcpTransportFailures, ATakenListenPortNamesTheSiteAndThePort) {
  TcpLeaders fed(2);
  asio::io_context io;
  tcp::acceptor squatter(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_of(fed.endpoints[0]))));
  const Outcome out = try_connect(fed.options(0));
  EXPECT_FALSE(out.config) << out.error;
  EXPECT_TRUE(has(out.error, "site s0 cannot listen on " + fed.endpoints[0].address + " (port " +
                                 std::to_string(port_of(fed.endpoints[0])) + ")"))
      << out.error;
}

TEST(TcpTransportFailures, AnUnreachablePeerAfterConnectTimeoutNamesTheSiteAndAddress) {
  TcpLeaders fed(2);  // nobody listens at s1's port
  fed.connect_timeout_s = 1.5;
  const auto start = Clock::now();
  const Outcome out = try_connect(fed.options(0));
  const double took = since(start);
  EXPECT_FALSE(out.config) << out.error;
  EXPECT_TRUE(has(out.error, "could not connect to site s1 (" + fed.endpoints[1].address +
                                 ") within federation.connect_timeout_s = 1.5 s"))
      << out.error;
  EXPECT_TRUE(has(out.error, "Connection refused")) << out.error;
  EXPECT_GE(took, 1.4);
  EXPECT_LT(took, 1.5 + 30);
}

// start_without_unreached: two of three leaders start without the third (nobody listens at its
// port); the peer not reached fails at once, the two reached exchange messages. Alone, it still throws.
TEST(TcpTransportFailures, StartWithoutUnreachedStartsWithThePeersReachedAndNamesTheOther) {
  TcpLeaders fed(3);
  fed.connect_timeout_s = 1.5;
  std::unique_ptr<TcpTransport> t[2];
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    o.start_without_unreached = true;
    t[i] = connect_tcp_transport(o);
  });
  EXPECT_TRUE(has(t[0]->unreached(), "could not connect to site s2 (" + fed.endpoints[2].address + ")")) << t[0]->unreached();
  EXPECT_TRUE(has(t[1]->unreached(), "could not connect to site s2")) << t[1]->unreached();
  std::vector<uint8_t> buf(4);
  try {
    t[0]->wait(t[0]->irecv(2, 1, buf));
    ADD_FAILURE() << "a receive from the unreached s2 completed";
  } catch (const PeerError& e) {
    EXPECT_EQ(e.peer(), 2);
    EXPECT_TRUE(has(e.what(), "site s2 (" + fed.endpoints[2].address + ") was not reached at start-up")) << e.what();
  }
  std::vector<uint8_t> m = {7, 1};
  const auto r = t[1]->irecv(0, 1, buf);
  t[0]->wait(t[0]->isend(1, 1, m));
  EXPECT_EQ(t[1]->wait(r), 2u);

  TcpLeaders alone(2);
  alone.connect_timeout_s = 1.5;
  TcpTransportOptions o = alone.options(0);
  o.start_without_unreached = true;
  const Outcome out = try_connect(o);
  EXPECT_TRUE(has(out.error, "could not connect to site s1")) << out.error;
}

}  // namespace
}  // namespace fedtrain
