// Who is present among the site leaders: the merge of loss reports, their wire form, and the agreement over TCP.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>

#include "runtime/core/error.h"
#include "runtime/federation/member_transport.h"
#include "runtime/federation/membership.h"
#include "tests/support/tcp_leaders.h"

namespace fedtrain {
namespace {

using testing::run_threads;
using testing::TcpLeaders;

TEST(MergeLost, UnionOfThePresentLeadersReports) {
  const std::vector<bool> present = {true, true, true, false};
  std::vector<std::optional<std::vector<bool>>> reports(4);
  reports[0] = std::vector<bool>{false, false, true, false};
  reports[1] = std::vector<bool>{false, false, false, false};
  reports[2] = std::vector<bool>{false, false, false, false};
  reports[3] = std::vector<bool>{true, true, false, false};  // an absent leader's word does not count
  EXPECT_EQ(merge_lost(present, reports), (std::vector<bool>{false, false, true, false}));
  reports[1].reset();  // its report did not arrive: lost too
  EXPECT_EQ(merge_lost(present, reports), (std::vector<bool>{false, true, true, false}));
}

TEST(MembershipReport, RoundTripAndHostileBytes) {
  const std::vector<bool> lost = {false, true, false};
  const std::vector<uint8_t> wire = encode_report(lost);
  std::vector<bool> back;
  EXPECT_EQ(decode_report(wire.data(), wire.size(), 3, &back), "");
  EXPECT_EQ(back, lost);
  EXPECT_NE(decode_report(wire.data(), wire.size() - 1, 3, &back).find("3 bytes, 4 expected"), std::string::npos);
  EXPECT_NE(decode_report(wire.data(), Transport::kTooLong, 3, &back).find("too many"), std::string::npos);
  std::vector<uint8_t> bad = wire;
  bad[0] = 3;
  EXPECT_NE(decode_report(bad.data(), bad.size(), 3, &back).find("kind 3"), std::string::npos);
  bool leaving = false;
  const std::vector<uint8_t> leave = encode_report(lost, true);
  EXPECT_EQ(decode_report(leave.data(), leave.size(), 3, &back, &leaving), "");
  EXPECT_TRUE(leaving);
  EXPECT_EQ(back, std::vector<bool>(3, false));
  bad = wire;
  bad[2] = 7;
  EXPECT_NE(decode_report(bad.data(), bad.size(), 3, &back).find("byte 7"), std::string::npos);
}

// Three leaders over TCP; the third one's transport ends (its job was killed): the other two agree
// that it left and why, and a MemberTransport among all three completes its operations with zeros.
TEST(Membership, TheOthersAgreeOnALeaderThatClosedItsConnections) {
  TcpLeaders leaders(3);
  leaders.peer_timeout_s = 10;
  auto t = leaders.connect_all();
  t[2].reset();
  std::vector<std::vector<SiteLeft>> left(2);
  std::vector<uint64_t> losses(2);
  std::vector<std::vector<uint8_t>> from_peer(2);
  run_threads(2, [&](int i) {
    Membership m(*t[i], leaders.sites);
    std::mutex mu;
    MemberTransport members(*t[i], {0, 1, 2}, [&](int site, const std::string& why) {
      std::lock_guard<std::mutex> lock(mu);
      m.lost(site, why);
    });
    // A message of the present peer arrives in full; the lost one's receive completes zeroed.
    std::vector<uint8_t> gone(16, 0xaa), peer(4, 0);
    const uint8_t mine[4] = {1, 2, 3, static_cast<uint8_t>(i)};
    auto h_gone = members.irecv(2, 7, gone);
    auto h_peer = members.irecv(1 - i, 7, peer);
    auto h_send = members.isend(1 - i, 7, mine);
    auto h_lost_send = members.isend(2, 7, mine);
    EXPECT_EQ(members.wait(h_gone), gone.size());
    EXPECT_EQ(gone, std::vector<uint8_t>(16, 0));
    EXPECT_EQ(members.wait(h_peer), 4u);
    members.wait(h_send);
    EXPECT_EQ(members.wait(h_lost_send), 0u);
    from_peer[i] = peer;
    losses[i] = members.losses();
    left[i] = m.agree().left;
    EXPECT_EQ(m.members(), (std::vector<int>{0, 1}));
    EXPECT_TRUE(m.agree().empty());  // nothing new the second time
  });
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(from_peer[i], (std::vector<uint8_t>{1, 2, 3, static_cast<uint8_t>(1 - i)}));
    EXPECT_GE(losses[i], 1u);
    ASSERT_EQ(left[i].size(), 1u);
    EXPECT_EQ(left[i][0].site, 2);
    EXPECT_NE(left[i][0].why.find("site s2"), std::string::npos) << left[i][0].why;
  }
}

// Only one leader saw the loss (the others' connections to it still stand): its report makes every
// leader drop it alike, and the dropped one, still running, does not count itself among them.
TEST(Membership, ALossSeenByOneLeaderIsAgreedByAll) {
  TcpLeaders leaders(3);
  leaders.peer_timeout_s = 10;
  auto t = leaders.connect_all();
  std::vector<std::vector<int>> members(3);
  std::vector<std::string> errors(3);
  run_threads(3, [&](int i) {
    Membership m(*t[i], leaders.sites, [&, i](int site, const std::string& why) { t[i]->drop(site, why); });
    if (i == 0) {
      m.lost(2, "a test says so");
      t[0]->drop(2, "a test says so");
    }
    try {
      m.agree();
    } catch (const Error& e) {
      errors[i] = e.what();
    }
    members[i] = m.members();
  });
  EXPECT_EQ(members[0], (std::vector<int>{0, 1}));
  EXPECT_EQ(members[1], (std::vector<int>{0, 1}));
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  // The dropped leader either hears it from the others' reports, or sees both connections close.
  if (errors[2].empty()) EXPECT_EQ(members[2], (std::vector<int>{2}));
  else EXPECT_NE(errors[2].find("start it again to rejoin"), std::string::npos) << errors[2];
}

}  // namespace
}  // namespace fedtrain
