// Which site leaders are present: lost peers agreed on at the start of every round attempt.
#include "runtime/federation/membership.h"

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {

std::vector<bool> merge_lost(const std::vector<bool>& present, const std::vector<std::optional<std::vector<bool>>>& reports) {
  FT_CHECK(reports.size() == present.size());
  std::vector<bool> gone(present.size(), false);
  for (size_t p = 0; p < present.size(); ++p) {
    if (!present[p]) continue;
    if (!reports[p]) {
      gone[p] = true;
      continue;
    }
    FT_CHECK(reports[p]->size() == present.size());
    for (size_t s = 0; s < present.size(); ++s)
      if ((*reports[p])[s] && present[s]) gone[s] = true;
  }
  return gone;
}

std::vector<uint8_t> encode_report(const std::vector<bool>& lost, bool leaving, const std::vector<bool>& ready) {
  std::vector<uint8_t> out(1 + lost.size());
  out[0] = leaving ? 2 : 1;
  for (size_t s = 0; s < lost.size() && !leaving; ++s) out[1 + s] = lost[s] ? 1 : s < ready.size() && ready[s] ? 2 : 0;
  return out;
}

std::string decode_report(const uint8_t* bytes, size_t size, size_t sites, std::vector<bool>* out, bool* leaving,
                          std::vector<bool>* ready) {
  if (size == Transport::kTooLong || size != 1 + sites)
    return "a membership report of " + (size == Transport::kTooLong ? std::string("too many") : std::to_string(size)) +
           " bytes, " + std::to_string(1 + sites) + " expected";
  if (bytes[0] != 1 && bytes[0] != 2)
    return "a membership report of kind " + std::to_string(bytes[0]) + " (1 or 2 expected)";
  if (leaving != nullptr) *leaving = bytes[0] == 2;
  out->assign(sites, false);
  if (ready != nullptr) ready->assign(sites, false);
  for (size_t s = 0; s < sites; ++s) {
    if (bytes[1 + s] > 2) return "a membership report with a byte " + std::to_string(bytes[1 + s]) + " (0, 1 or 2 expected)";
    (*out)[s] = bytes[1 + s] == 1;
    if (ready != nullptr) (*ready)[s] = bytes[1 + s] == 2;
  }
  return "";
}

Membership::Membership(Transport& all, std::vector<std::string> sites, LeftHook on_left)
    : all_(all), sites_(std::move(sites)), present_(sites_.size(), true), why_(sites_.size()), on_left_(std::move(on_left)) {
  FT_CHECK(static_cast<int>(sites_.size()) == all.size());
}

void Membership::lost(int site, const std::string& why) {
  FT_CHECK(site >= 0 && site < static_cast<int>(sites_.size()) && site != all_.rank());
  if (present_[site] && why_[site].empty()) why_[site] = why.empty() ? "its connection failed" : why;
}

std::vector<int> Membership::members() const {
  std::vector<int> out;
  for (size_t s = 0; s < present_.size(); ++s)
    if (present_[s]) out.push_back(static_cast<int>(s));
  return out;
}

void Membership::leave() {
  const std::vector<uint8_t> wire = encode_report(std::vector<bool>(sites_.size(), false), true);
  std::vector<Transport::Handle> sends;
  for (int p : members())
    if (p != all_.rank() && why_[p].empty()) sends.push_back(all_.isend(p, kMembershipTag, wire));
  for (Transport::Handle h : sends) {
    try {
      all_.wait(h);  // bounded by federation.peer_timeout_s
    } catch (const PeerError&) {
    }
  }
}

void Membership::set_present(const std::vector<bool>& present) {
  FT_CHECK(present.size() == sites_.size() && present[all_.rank()]);
  present_ = present;
  for (auto& w : why_) w.clear();
}

MembershipChange Membership::agree(const std::vector<bool>& ready_here) {
  const size_t n = sites_.size();
  std::vector<bool> gone(n, false);
  std::vector<bool> mine_ready(n, false);
  for (size_t s = 0; s < n && s < ready_here.size(); ++s) mine_ready[s] = ready_here[s] && !present_[s];
  std::vector<std::vector<bool>> ready(n);  // per reporting leader, from the last pass
  for (size_t pass = 0; pass <= n; ++pass) {
    std::vector<std::optional<std::vector<bool>>> reports = exchange_reports(mine_ready, ready);
    // Leaders lost before this pass sent no report (nullopt): they stay lost.
    gone = merge_lost(present_, reports);
    if (gone[all_.rank()])
      throw Error("the leaders of the other sites lost this site's leader (its connection to them broke or was "
                  "silent for federation.peer_timeout_s); this job stops: start it again to rejoin the federation");
    bool stable = true;
    for (size_t p = 0; p < n; ++p)
      if (present_[p] && reports[p] && *reports[p] != gone) stable = false;
    name_losses(gone, reports);
    if (stable) break;
  }
  // A loss seen after this leader's report was sent waits for the next agreement.
  return apply(gone, ready);
}

// One pass: this leader's report (whom it lost, who is ready to join) to every
// present peer it has not lost, and theirs; a peer that fails or sends a bad
// report is lost. `ready` gets every reporting leader's ready list.
std::vector<std::optional<std::vector<bool>>> Membership::exchange_reports(const std::vector<bool>& mine_ready,
                                                                           std::vector<std::vector<bool>>& ready) {
  const size_t n = sites_.size();
  const int me = all_.rank();
  std::vector<bool> mine(n, false);
  for (size_t s = 0; s < n; ++s) mine[s] = present_[s] && !why_[s].empty();
  const std::vector<uint8_t> wire = encode_report(mine, false, mine_ready);
  std::vector<int> peers;
  for (int p : members())
    if (p != me && why_[p].empty()) peers.push_back(p);
  std::vector<std::vector<uint8_t>> in(n, std::vector<uint8_t>(wire.size() + 1));
  std::vector<Transport::Handle> recvs(n, -1), sends;
  for (int p : peers) recvs[p] = all_.irecv(p, kMembershipTag, in[p]);
  for (int p : peers) sends.push_back(all_.isend(p, kMembershipTag, wire));
  std::vector<std::optional<std::vector<bool>>> reports(n);
  reports[me] = mine;
  ready.assign(n, {});
  ready[me] = mine_ready;
  for (int p : peers) {
    try {
      const size_t got = all_.wait(recvs[p]);
      std::vector<bool> report;
      bool leaving = false;
      const std::string bad = decode_report(in[p].data(), got, n, &report, &leaving, &ready[p]);
      if (!bad.empty()) throw PeerError(p, "site '" + sites_[p] + "' sent " + bad + ": it runs another protocol version");
      if (leaving)
        throw PeerError(p, "its job stopped in order after its checkpoint (SIGTERM or SIGUSR1 to that site's job); "
                           "started again it rejoins");
      reports[p] = report;
    } catch (const PeerError& e) {
      lost(p, e.what());
    }
  }
  for (Transport::Handle h : sends) {
    try {
      all_.wait(h);
    } catch (const PeerError& e) {
      lost(e.peer(), e.what());
    }
  }
  return reports;
}

// Why each newly gone site left: the first leader that reported losing it.
void Membership::name_losses(const std::vector<bool>& gone,
                             const std::vector<std::optional<std::vector<bool>>>& reports) {
  const size_t n = sites_.size();
  for (size_t s = 0; s < n; ++s) {
    if (!gone[s] || !why_[s].empty()) continue;
    std::string by = "another leader";
    for (size_t p = 0; p < n; ++p)
      if (reports[p] && (*reports[p])[s]) {
        by = sites_[p];
        break;
      }
    why_[s] = "site '" + by + "' lost its connection to it";
  }
}

// The agreed change: the gone sites leave; an absent site ready on every leader that stays joins.
MembershipChange Membership::apply(const std::vector<bool>& gone, const std::vector<std::vector<bool>>& ready) {
  const size_t n = sites_.size();
  MembershipChange change;
  for (size_t s = 0; s < n; ++s) {
    if (present_[s]) continue;
    bool all = true;
    for (size_t p = 0; p < n; ++p)
      if (present_[p] && !gone[p] && (ready[p].size() != n || !ready[p][s])) all = false;
    if (all) change.joined.push_back(static_cast<int>(s));
  }
  for (size_t s = 0; s < n; ++s) {
    if (gone[s]) {
      present_[s] = false;
      change.left.push_back({static_cast<int>(s), why_[s]});
      if (on_left_) on_left_(static_cast<int>(s), why_[s]);
    }
  }
  for (int s : change.joined) {
    present_[s] = true;
    why_[s].clear();
  }
  return change;
}

}  // namespace fedtrain
