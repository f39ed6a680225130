// A restarted site rejoins a running federation at a round boundary.
#include "runtime/federation/rejoin.h"

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/federation/egress_log.h"
#include "runtime/federation/membership.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kStatusBytes = 9;  // kind u8 | round i64 LE
constexpr size_t kWelcomeHead = 1 + 8 + 32 + 32 + 8 + 8;  // + one byte per site + the floats

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
void put_floats(std::vector<uint8_t>& out, const std::vector<float>& v) {
  const size_t at = out.size();
  out.resize(at + v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * sizeof(float));
}

// Waits for `h` by polling, until `deadline`: the others answer at their round boundary, which
// may be longer than federation.peer_timeout_s away (a wait would drop them as silent).
size_t poll_until(Transport& t, Transport::Handle h, Clock::time_point deadline, const std::string& what) {
  size_t got = 0;
  while (!t.test(h, &got)) {
    if (Clock::now() >= deadline) throw Error(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return got;
}

Clock::time_point after(double s) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

std::vector<uint8_t> encode_status(JoinKind kind, int64_t round) {
  std::vector<uint8_t> out{static_cast<uint8_t>(kind)};
  put_u64(out, static_cast<uint64_t>(round));
  return out;
}

Sha256Digest state_hash(const std::vector<float>& global, const std::vector<float>& momentum) {
  std::vector<uint8_t> all;
  put_floats(all, global);
  put_floats(all, momentum);
  return sha256(all.data(), all.size());
}

std::vector<uint8_t> encode_welcome(const Welcome& w) {
  std::vector<uint8_t> out{static_cast<uint8_t>(JoinKind::kWelcome)};
  put_u64(out, static_cast<uint64_t>(w.round));
  out.insert(out.end(), w.settings.begin(), w.settings.end());
  out.insert(out.end(), w.state.begin(), w.state.end());
  put_u64(out, w.global.size());
  put_u64(out, w.momentum.size());
  for (bool p : w.present) out.push_back(p ? 1 : 0);
  put_floats(out, w.global);
  put_floats(out, w.momentum);
  return out;
}

std::string decode_welcome(const uint8_t* b, size_t size, size_t sites, Welcome* out) {
  if (size == Transport::kTooLong || size < kWelcomeHead + sites) return "a welcome too short or too long";
  if (b[0] != static_cast<uint8_t>(JoinKind::kWelcome)) return "a join message of kind " + std::to_string(b[0]) + ", a welcome expected";
  out->round = static_cast<int64_t>(get_u64(b + 1));
  std::memcpy(out->settings.data(), b + 9, 32);
  std::memcpy(out->state.data(), b + 41, 32);
  const uint64_t ng = get_u64(b + 73), nm = get_u64(b + 81);
  if (ng > size || nm > size || size != kWelcomeHead + sites + (ng + nm) * sizeof(float))
    return "a welcome of " + std::to_string(size) + " bytes that announces " + std::to_string(ng) + " + " +
           std::to_string(nm) + " floats";
  if (out->round < 1) return "a welcome at round " + std::to_string(out->round);
  out->present.assign(sites, false);
  for (size_t s = 0; s < sites; ++s) {
    if (b[kWelcomeHead + s] > 1) return "a welcome with a site byte " + std::to_string(b[kWelcomeHead + s]);
    out->present[s] = b[kWelcomeHead + s] == 1;
  }
  const uint8_t* f = b + kWelcomeHead + sites;
  out->global.resize(ng);
  out->momentum.resize(nm);
  if (ng) std::memcpy(out->global.data(), f, ng * sizeof(float));
  if (nm) std::memcpy(out->momentum.data(), f + ng * sizeof(float), nm * sizeof(float));
  return "";
}

JoinDesk::JoinDesk(Transport& all, std::vector<std::string> sites, std::function<bool(int)> connected, EgressLog* log)
    : all_(all), sites_(std::move(sites)), connected_(std::move(connected)), log_(log),
      recv_(sites_.size(), -1), in_(sites_.size(), std::vector<uint8_t>(kStatusBytes + 1)), ready_(sites_.size(), false) {}

int64_t JoinDesk::exchange_status(double timeout_s) {
  const int n = all_.size(), me = all_.rank();
  const std::vector<uint8_t> mine = encode_status(JoinKind::kStarting);
  std::vector<Transport::Handle> sends;
  for (int p = 0; p < n; ++p)
    if (p != me && connected_(p)) recv_[p] = all_.irecv(p, kJoinTag, in_[p]);
  for (int p = 0; p < n; ++p)
    if (recv_[p] >= 0) sends.push_back(all_.isend(p, kJoinTag, mine));
  const auto deadline = after(timeout_s);
  int64_t running = 0;
  for (int p = 0; p < n; ++p) {
    if (recv_[p] < 0) continue;  // itself, or a peer not reached at start-up (TcpTransport::unreached())
    const size_t got = poll_until(all_, recv_[p], deadline,
                                  "start-up: site '" + sites_[p] + "' sent no start-up status within "
                                  "federation.connect_timeout_s: its leader is connected but does not answer");
    recv_[p] = -1;
    const uint8_t kind = got == kStatusBytes ? in_[p][0] : 0;
    if (kind != static_cast<uint8_t>(JoinKind::kStarting) && kind != static_cast<uint8_t>(JoinKind::kRunning))
      throw Error("start-up: site '" + sites_[p] + "' sent a start-up status this version does not know (" +
                  std::to_string(got) + " bytes, kind " + std::to_string(kind) + "): every site must run the same fedtrain");
    if (kind == static_cast<uint8_t>(JoinKind::kRunning))
      running = std::max<int64_t>(running, static_cast<int64_t>(get_u64(in_[p].data() + 1)));
  }
  for (Transport::Handle h : sends) poll_until(all_, h, deadline, "start-up: a status could not be sent");
  return running;
}

Welcome JoinDesk::read_welcome(int p, size_t size) const {
  Welcome w;
  const std::string bad = decode_welcome(in_[p].data(), size, sites_.size(), &w);
  if (!bad.empty()) throw Error("rejoining: site '" + sites_[p] + "' sent " + bad);
  return w;
}

Welcome JoinDesk::await_welcome(size_t params, double timeout_s) {
  const int n = all_.size(), me = all_.rank();
  const std::vector<uint8_t> ready = encode_status(JoinKind::kReady);
  const auto deadline = after(timeout_s);
  // Every connected peer's receive at once: who welcomes (the present sites) is known from the first welcome.
  for (int p = 0; p < n; ++p) {
    if (p == me || !connected_(p)) continue;
    in_[p].resize(kWelcomeHead + n + 2 * params * sizeof(float) + 1);
    recv_[p] = all_.irecv(p, kJoinTag, in_[p]);
  }
  std::vector<Transport::Handle> sends;
  for (int p = 0; p < n; ++p)
    if (recv_[p] >= 0) sends.push_back(all_.isend(p, kJoinTag, ready));
  for (Transport::Handle h : sends) poll_until(all_, h, deadline, "rejoining: kReady could not be sent");
  std::vector<std::optional<Welcome>> got(n);
  std::vector<bool> present;  // from the first welcome
  auto complete = [&] {
    if (present.empty()) return false;
    for (int p = 0; p < n; ++p)
      if (p != me && present[p] && !got[p]) return false;
    return true;
  };
  while (!complete()) {
    if (Clock::now() >= deadline)
      throw Error("rejoining: the running sites did not admit this site within federation.connect_timeout_s (no "
                  "welcome from every present site at a round boundary)");
    bool any = false;
    for (int p = 0; p < n; ++p) {
      size_t size = 0;
      if (p == me || recv_[p] < 0 || !all_.test(recv_[p], &size)) continue;
      recv_[p] = -1;
      any = true;
      got[p] = read_welcome(p, size);
      if (!got[p]->present[p] || !got[p]->present[me])
        throw Error("rejoining: site '" + sites_[p] + "' sent a welcome that leaves it or this site out");
      if (present.empty()) present = got[p]->present;
    }
    for (int p = 0; p < n && !present.empty(); ++p)
      if (p != me && present[p] && !got[p] && recv_[p] < 0)
        throw Error("rejoining: site '" + sites_[p] + "' is present for the running sites, but this site did not "
                    "reach it at start-up; start this site again once it answers");
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int sponsor = -1;
  for (int p = 0; p < n && sponsor < 0; ++p)
    if (p != me && present[p]) sponsor = p;
  Welcome out = std::move(*got[sponsor]);
  if (out.global.size() != params)
    throw Error("rejoining: site '" + sites_[sponsor] + "' (the lowest-indexed present) sent " +
                std::to_string(out.global.size()) + " parameters, this site's model has " + std::to_string(params));
  if (!(state_hash(out.global, out.momentum) == out.state))
    throw Error("rejoining: the model that site '" + sites_[sponsor] + "' sent does not hash to what it announced");
  for (int p = sponsor + 1; p < n; ++p) {
    if (p == me || !present[p]) continue;
    const Welcome& w = *got[p];
    if (w.round != out.round || w.present != out.present || !(w.state == out.state) || !(w.settings == out.settings))
      throw Error("rejoining: the welcomes of site '" + sites_[sponsor] + "' and site '" + sites_[p] +
                  "' differ (round, sites, settings or the hash of the global model): the running sites disagree");
  }
  return out;
}

std::vector<bool> JoinDesk::poll(const Membership& members, int64_t round) {
  for (int s = 0; s < static_cast<int>(sites_.size()); ++s) {
    if (s == all_.rank() || members.present(s)) continue;
    if (ready_[s] && !connected_(s)) ready_[s] = false;  // it went away again before it was admitted
    if (recv_[s] >= 0) {
      size_t got = 0;
      bool done = false;
      try {
        done = all_.test(recv_[s], &got);
      } catch (const Error&) {  // its connection failed (again): what it said is void
        recv_[s] = -1;
        ready_[s] = false;
        continue;
      }
      if (!done) continue;
      recv_[s] = -1;
      const uint8_t kind = got == kStatusBytes ? in_[s][0] : 0;
      if (kind == static_cast<uint8_t>(JoinKind::kStarting)) {
        log_info("round " + std::to_string(round) + ": site '" + sites_[s] + "' is back (its leader restarted); "
                 "it is told that the federation runs, and admitted once its trainer is ready");
        const std::vector<uint8_t> reply = encode_status(JoinKind::kRunning, round);
        if (log_ != nullptr) log_->record(round, 0, "join", sites_[s], reply);
        try {
          all_.wait(all_.isend(s, kJoinTag, reply));
        } catch (const Error&) {
          continue;
        }
      } else if (kind == static_cast<uint8_t>(JoinKind::kReady)) {
        ready_[s] = true;
      } else if (got != Transport::kTooLong && got > 0 && in_[s][0] == static_cast<uint8_t>(JoinKind::kWelcome)) {
        log_warn("round " + std::to_string(round) + ": site '" + sites_[s] + "' sent a welcome, but it is not "
                 "present here: the running sites disagree on who is present (one dropped the others); ignored");
      } else {
        log_warn("site '" + sites_[s] + "' sent a join message of " + std::to_string(got) + " bytes, kind " +
                 std::to_string(kind) + ": ignored");
      }
    }
    if (recv_[s] < 0 && !ready_[s] && connected_(s)) recv_[s] = all_.irecv(s, kJoinTag, in_[s]);
  }
  return ready_;
}

void JoinDesk::welcome(int site, const Welcome& w) {
  ready_[site] = false;
  const std::vector<uint8_t> bytes = encode_welcome(w);
  if (log_ != nullptr) log_->record(w.round, 0, "welcome", sites_[site], bytes);
  try {
    all_.wait(all_.isend(site, kJoinTag, bytes));  // bounded by federation.peer_timeout_s
  } catch (const Error& e) {
    log_warn("the welcome to site '" + sites_[site] + "' was not sent: " + e.what());
  }
}

}  // namespace fedtrain
