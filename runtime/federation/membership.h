// Which site leaders are present (one job per site): lost peers agreed on at the start of every round attempt.
//
// A leader whose connection closes, breaks, or stays silent for
// federation.peer_timeout_s is lost to the leader that saw it (the TCP
// transport's PeerError, through MemberTransport or the leaders' group).
// Leaders may see a loss at different moments, so before every round attempt
// the present leaders agree on who is gone:
//   1. report   every present leader sends every other present leader the
//               set of sites it lost (tag kMembershipTag, in clear: site
//               indices only); a peer whose report does not arrive is lost too
//   2. merge    gone = the union of every report (merge_lost): the same on
//               every leader, as each merges the same reports
//   3. repeat   while some report differed from the union (a loss seen by one
//               leader only), so that every leader leaves with the same set;
//               at most one repetition per site
// A site that the others report lost but that still runs (its network broke
// one way) learns it from their reports and stops with an Error, or, when
// their connections close first, goes on alone (its rounds are abandoned). Members then are present minus gone;
// fewer than federation.min_sites participants abandon rounds as ever.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"

namespace fedtrain {

inline constexpr int kMembershipTag = 50;

// Step 2: `reports[p]` is leader p's lost set (nullopt: its report did not
// arrive, so p is lost); only present leaders' reports count.
std::vector<bool> merge_lost(const std::vector<bool>& present, const std::vector<std::optional<std::vector<bool>>>& reports);

// The wire form of a report: a kind byte (1: a report, 2: the sender leaves),
// then one byte per site (1: lost; 2: not present, and ready to rejoin
// (rejoin.h); all 0 in a leave).
std::vector<uint8_t> encode_report(const std::vector<bool>& lost, bool leaving = false,
                                   const std::vector<bool>& ready = {});
// "" and `out` (and `leaving`, `ready`), or what is wrong with the bytes (a peer running another protocol, or a hostile one).
std::string decode_report(const uint8_t* bytes, size_t size, size_t sites, std::vector<bool>* out,
                          bool* leaving = nullptr, std::vector<bool>* ready = nullptr);

struct SiteLeft {
  int site = 0;
  std::string why;
};

struct MembershipChange {
  std::vector<SiteLeft> left;
  std::vector<int> joined;  // admitted (rejoin.h): every present leader reported it ready
  bool empty() const { return left.empty() && joined.empty(); }
};

class Membership {
 public:
  // `all`: the leader transport of every site (full ranks = site indices); it must outlive this.
  // `on_left` is called for every site that left (to close its connection: a
  // leader that others dropped but that still runs then sees it at once).
  using LeftHook = std::function<void(int site, const std::string& why)>;
  Membership(Transport& all, std::vector<std::string> sites, LeftHook on_left = {});

  // What this leader saw (MemberTransport, the leaders' group): `site` is lost, because `why`.
  void lost(int site, const std::string& why);
  // Steps 1-3, collective over the present leaders. Returns the sites that
  // left since the last call, and the sites admitted again: those not present
  // that every present leader that stays reports `ready` (its kReady arrived, rejoin.h).
  MembershipChange agree(const std::vector<bool>& ready = {});
  // A rejoiner: the present sites its welcome names.
  void set_present(const std::vector<bool>& present);
  // An orderly leave (this site's job stops after its checkpoint): a leave
  // message to every present leader, which their next agree() reads as the
  // reason, instead of a closed connection. Returns when it was sent.
  void leave();

  bool present(int site) const { return present_[site]; }
  // Present sites' indices, ascending (self included).
  std::vector<int> members() const;
  const std::string& site(int i) const { return sites_[i]; }

 private:
  // agree()'s steps.
  std::vector<std::optional<std::vector<bool>>> exchange_reports(const std::vector<bool>& mine_ready,
                                                                 std::vector<std::vector<bool>>& ready);
  void name_losses(const std::vector<bool>& gone, const std::vector<std::optional<std::vector<bool>>>& reports);
  MembershipChange apply(const std::vector<bool>& gone, const std::vector<std::vector<bool>>& ready);

  Transport& all_;
  std::vector<std::string> sites_;
  std::vector<bool> present_;
  std::vector<std::string> why_;  // per site: why it was lost, "" while it is not
  LeftHook on_left_;
};

}  // namespace fedtrain
