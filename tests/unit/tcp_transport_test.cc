// The TCP leader transport's messages among 3-4 leaders (threads, 127.0.0.1): sizes 0 B to 64 MiB, tags in and out of order, early messages, wait_any, test, kTooLong, limits, stats.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/support/tcp_leaders.h"

namespace fedtrain {
namespace {

using namespace std::chrono_literals;
using testing::run_threads;
using testing::TcpLeaders;

// The bytes of message (from, to, tag, index): a pattern that any misplaced or shifted byte breaks.
std::vector<uint8_t> pattern(int from, int to, int tag, size_t bytes) {
  std::vector<uint8_t> v(bytes);
  uint32_t x = 2654435761u * static_cast<uint32_t>(from * 131 + to * 17 + tag + 1);
  for (size_t i = 0; i < bytes; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

TEST(TcpTransport, EveryPairExchangesMessagesOfEverySizeAndTagInOrder) {
  TcpLeaders fed(4);
  auto t = fed.connect_all();
  // Sizes per tag; tag 7 carries 64 MiB between leaders 0 and 1 only.
  const std::vector<size_t> sizes = {0, 1, 13, 4096, 65537, size_t{1} << 20};
  run_threads(4, [&](int me) {
    Transport& tr = *t[me];
    EXPECT_EQ(tr.rank(), me);
    EXPECT_EQ(tr.size(), 4);
    std::vector<std::vector<uint8_t>> out, in;
    std::vector<Transport::Handle> sends, recvs;
    std::vector<std::tuple<int, int, size_t>> expected;  // (from, tag, size) of each receive
    for (int p = 0; p < 4; ++p) {
      if (p == me) continue;
      // Receives posted in reverse tag order: matching is by tag, not by arrival.
      for (int k = static_cast<int>(sizes.size()) - 1; k >= 0; --k) {
        in.emplace_back(sizes[k] + 8);
        expected.emplace_back(p, k, sizes[k]);
      }
      if ((me == 0 && p == 1) || (me == 1 && p == 0)) {
        in.emplace_back(size_t{64} << 20);
        expected.emplace_back(p, 7, size_t{64} << 20);
      }
    }
    for (size_t i = 0; i < in.size(); ++i)
      recvs.push_back(tr.irecv(std::get<0>(expected[i]), std::get<1>(expected[i]), in[i]));
    for (int p = 0; p < 4; ++p) {
      if (p == me) continue;
      for (size_t k = 0; k < sizes.size(); ++k) out.push_back(pattern(me, p, static_cast<int>(k), sizes[k]));
      if ((me == 0 && p == 1) || (me == 1 && p == 0)) out.push_back(pattern(me, p, 7, size_t{64} << 20));
    }
    size_t o = 0;
    for (int p = 0; p < 4; ++p) {
      if (p == me) continue;
      for (size_t k = 0; k < sizes.size(); ++k) sends.push_back(tr.isend(p, static_cast<int>(k), out[o++]));
      if ((me == 0 && p == 1) || (me == 1 && p == 0)) sends.push_back(tr.isend(p, 7, out[o++]));
    }
    for (size_t i = 0; i < recvs.size(); ++i) {
      const auto [from, tag, bytes] = expected[i];
      ASSERT_EQ(tr.wait(recvs[i]), bytes) << "from " << from << " tag " << tag;
      in[i].resize(bytes);
      EXPECT_EQ(in[i], pattern(from, me, tag, bytes)) << "from " << from << " tag " << tag;
    }
    for (auto h : sends) EXPECT_EQ(tr.wait(h), 0u);
  });
}

TEST(TcpTransport, MessagesOfOneTagMatchInOrderAlsoWhenTheyArriveBeforeTheirReceive) {
  TcpLeaders fed(3);
  auto t = fed.connect_all();
  run_threads(3, [&](int me) {
    Transport& tr = *t[me];
    if (me == 0) {
      std::vector<std::vector<uint8_t>> msgs;
      for (int i = 0; i < 5; ++i) msgs.push_back(pattern(0, 2, i, 1000 + i));
      std::vector<Transport::Handle> hs;
      for (auto& m : msgs) hs.push_back(tr.isend(2, 3, m));
      for (auto h : hs) tr.wait(h);
    } else if (me == 2) {
      std::this_thread::sleep_for(200ms);  // all five have arrived and wait, buffered
      for (int i = 0; i < 5; ++i) {
        std::vector<uint8_t> buf(2000);
        const size_t got = tr.wait(tr.irecv(0, 3, buf));
        ASSERT_EQ(got, 1000u + i);
        buf.resize(got);
        EXPECT_EQ(buf, pattern(0, 2, i, 1000 + i));
      }
    }
  });
}

TEST(TcpTransport, AMessageSentBeforeItsSenderClosedStillArrives) {
  TcpLeaders fed(2);
  auto t = fed.connect_all();
  const std::vector<uint8_t> last = {1, 2, 3, 4, 5};
  t[1]->wait(t[1]->isend(0, 9, last));
  t[1].reset();                      // its leader exits right after its last send
  std::this_thread::sleep_for(300ms);  // the message and the end of the stream have both arrived
  std::vector<uint8_t> buf(16);
  ASSERT_EQ(t[0]->wait(t[0]->irecv(1, 9, buf)), last.size());
  buf.resize(last.size());
  EXPECT_EQ(buf, last);
  // Nothing more can come from it: a further receive fails, naming the peer.
  EXPECT_THROW(t[0]->wait(t[0]->irecv(1, 9, buf)), PeerError);
}

TEST(TcpTransport, WaitAnyAndTestReportWhatCompleted) {
  TcpLeaders fed(3);
  auto t = fed.connect_all();
  run_threads(3, [&](int me) {
    Transport& tr = *t[me];
    if (me == 0) {
      std::vector<uint8_t> a(10), b(20);
      std::vector<Transport::Handle> hs = {tr.irecv(1, 5, a), tr.irecv(2, 5, b)};
      size_t got = 0;
      bool seen[2] = {false, false};
      for (int k = 0; k < 2; ++k) {
        const size_t i = tr.wait_any(hs, &got);
        EXPECT_EQ(hs[i], -1);
        EXPECT_EQ(got, i == 0 ? 3u : 4u);
        seen[i] = true;
      }
      EXPECT_TRUE(seen[0] && seen[1]);
      // test(): false while nothing came, then true with the size.
      std::vector<uint8_t> c(8);
      Transport::Handle h = tr.irecv(1, 6, c);
      size_t bytes = 99;
      EXPECT_FALSE(tr.test(h, &bytes));
      std::vector<uint8_t> go = {1};
      tr.wait(tr.isend(1, 9, go));
      while (!tr.test(h, &bytes)) std::this_thread::sleep_for(1ms);
      EXPECT_EQ(bytes, 5u);
    } else {
      std::vector<uint8_t> m(me == 1 ? 3 : 4, 7);
      tr.wait(tr.isend(0, 5, m));
      if (me == 1) {
        std::vector<uint8_t> go(1);
        tr.wait(tr.irecv(0, 9, go));
        std::vector<uint8_t> late(5, 1);
        tr.wait(tr.isend(0, 6, late));
      }
    }
  });
}

TEST(TcpTransport, AMessageLongerThanItsBufferIsTooLongAndTheNextStillArrives) {
  TcpLeaders fed(2);
  auto t = fed.connect_all();
  run_threads(2, [&](int me) {
    Transport& tr = *t[me];
    if (me == 0) {
      const auto big = pattern(0, 1, 1, 300000), early = pattern(0, 1, 2, 500), next = pattern(0, 1, 3, 100);
      tr.wait(tr.isend(1, 1, big));
      tr.wait(tr.isend(1, 2, early));
      tr.wait(tr.isend(1, 3, next));
    } else {
      std::vector<uint8_t> small(1000), early_buf(499), next_buf(100);
      EXPECT_EQ(tr.wait(tr.irecv(0, 1, small)), Transport::kTooLong);  // posted first: read and dropped
      std::this_thread::sleep_for(100ms);                                // tag 2 arrives before its receive
      EXPECT_EQ(tr.wait(tr.irecv(0, 2, early_buf)), Transport::kTooLong);
      EXPECT_EQ(tr.wait(tr.irecv(0, 3, next_buf)), 100u);
      EXPECT_EQ(next_buf, pattern(0, 1, 3, 100));
    }
  });
}

TEST(TcpTransport, AFrameAboveTheLimitFailsThePeerNamingIt) {
  TcpLeaders fed(2);
  std::vector<std::unique_ptr<TcpTransport>> t(2);
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 1) o.max_message_bytes = 1024;
    t[i] = connect_tcp_transport(o);
  });
  std::vector<uint8_t> big(4096, 1), buf(8192);
  t[0]->wait(t[0]->isend(1, 1, big));
  try {
    t[1]->wait(t[1]->irecv(0, 1, buf));
    FAIL() << "no error";
  } catch (const PeerError& e) {
    EXPECT_EQ(e.peer(), 0);
    EXPECT_NE(std::string(e.what()).find("site s0 (" + fed.endpoints[0].address + ") announced a message of 4096 bytes"),
              std::string::npos)
        << e.what();
  }
}

TEST(TcpTransport, MoreEarlyBytesThanTheLimitFailThePeer) {
  TcpLeaders fed(2);
  std::vector<std::unique_ptr<TcpTransport>> t(2);
  run_threads(2, [&](int i) {
    TcpTransportOptions o = fed.options(i);
    if (i == 1) o.max_unexpected_bytes = 10000;
    t[i] = connect_tcp_transport(o);
  });
  std::vector<uint8_t> m(6000, 1), buf(6000);
  t[0]->wait(t[0]->isend(1, 1, m));
  t[0]->wait(t[0]->isend(1, 2, m));  // nobody asked: 12000 early bytes
  try {
    t[1]->wait(t[1]->irecv(0, 3, buf));
    FAIL() << "no error";
  } catch (const PeerError& e) {
    EXPECT_EQ(e.peer(), 0);
    EXPECT_NE(std::string(e.what()).find("bytes that this leader has not asked for"), std::string::npos) << e.what();
  }
}

TEST(TcpTransport, PeerStatsCountEveryByteAndARoundTrip) {
  TcpLeaders fed(2);
  auto t = fed.connect_all();
  const auto before = t[0]->peer_stats()[1];
  EXPECT_TRUE(before.connected);
  EXPECT_EQ(before.site, "s1");
  EXPECT_GE(before.last_rtt_s, 0.0);  // from the handshake
  EXPECT_GT(before.bytes_sent, 0u);   // the handshake
  std::vector<uint8_t> m(1000, 1), buf(1000);
  auto r = t[1]->irecv(0, 1, buf);
  t[0]->wait(t[0]->isend(1, 1, m));
  t[1]->wait(r);
  const auto after = t[0]->peer_stats()[1];
  EXPECT_EQ(after.bytes_sent - before.bytes_sent, 1000u + 16u);  // payload and frame header
  EXPECT_EQ(after.messages_sent, 1u);
  EXPECT_EQ(t[1]->peer_stats()[0].messages_received, 1u);
  EXPECT_EQ(t[1]->peer_stats()[0].bytes_received, after.bytes_sent);
  // A ping comes back with a fresh round trip.
  t[0]->ping_peers();
  for (int i = 0; i < 500 && t[0]->peer_stats()[1].bytes_received == after.bytes_received; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(t[0]->peer_stats()[1].bytes_received, after.bytes_received + 24u);
  EXPECT_GE(t[0]->peer_stats()[1].last_rtt_s, 0.0);
}

TEST(TcpTransport, ARestartedLowerLeaderReplacesItsConnection) {
  TcpLeaders fed(2);
  auto t = fed.connect_all();
  std::vector<uint8_t> pending(10);
  auto lost = t[1]->irecv(0, 1, pending);
  t[0].reset();  // leader s0 stops ...
  EXPECT_THROW(t[1]->wait(lost), PeerError);
  t[0] = connect_tcp_transport(fed.options(0));  // ... and starts again: it dials s1, which still listens
  for (int i = 0; i < 1000 && t[1]->peer_stats()[0].reconnects == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(t[1]->peer_stats()[0].reconnects, 1u);
  EXPECT_TRUE(t[1]->peer_stats()[0].connected);
  std::vector<uint8_t> m = {1, 2, 3}, buf(3);
  auto r = t[1]->irecv(0, 2, buf);
  t[0]->wait(t[0]->isend(1, 2, m));
  EXPECT_EQ(t[1]->wait(r), 3u);
  EXPECT_EQ(buf, m);
}

}  // namespace
}  // namespace fedtrain
