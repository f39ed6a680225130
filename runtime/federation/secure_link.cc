// Sealed messages between this leader and the other leaders, for one round attempt.
#include "runtime/federation/secure_link.h"

#include <chrono>

#include "runtime/core/check.h"

namespace fedtrain {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Receive buffers leave room for a longer message than expected, so that one
// (an attack, or a bug) is read and rejected instead of failing the transport.
constexpr size_t kSlack = 64;

}  // namespace

SecureLink::SecureLink(Transport& transport, EgressLog* log, std::vector<std::string> site_names, uint64_t job_tag)
    : transport_(transport), log_(log), sites_(std::move(site_names)), job_tag_(job_tag) {
  FT_CHECK(static_cast<int>(sites_.size()) == transport.size());
}

MessageHeader SecureLink::header(Phase phase, uint32_t step, int sender, int receiver, uint32_t chunk, uint32_t chunks,
                                 size_t length) const {
  MessageHeader h;
  h.phase = static_cast<uint16_t>(phase);
  h.job = job_tag_;
  h.round = keys_->round();
  h.attempt = static_cast<uint32_t>(keys_->attempt());
  h.sender = static_cast<uint16_t>(sender);
  h.receiver = static_cast<uint16_t>(receiver);
  h.step = step;
  h.chunk = chunk;
  h.chunk_count = chunks;
  h.length = length;
  return h;
}

std::string SecureLink::describe(const MessageHeader& h, const std::string& what) const {
  return "round " + std::to_string(h.round) + " attempt " + std::to_string(h.attempt) + ": " +
         phase_name(static_cast<Phase>(h.phase)) + " message (step " + std::to_string(h.step) + ", chunk " +
         std::to_string(h.chunk + 1) + "/" + std::to_string(h.chunk_count) + ") from site '" + sites_[h.sender] +
         "' to site '" + sites_[h.receiver] + "' rejected: " + what;
}

void SecureLink::send(int peer, Phase phase, std::span<const uint8_t> wire, std::vector<Transport::Handle>& pending) {
  if (log_ != nullptr) {  // before the send: no message leaves unrecorded
    const auto t = Clock::now();
    log_->record(keys_->round(), keys_->attempt(), phase_name(phase), sites_[peer], wire);
    stats_.log_seconds += since(t);
  }
  const auto t = Clock::now();  // MPI may copy data here (shared memory): counted as transfer
  pending.push_back(transport_.isend(peer, static_cast<int>(phase), wire));
  stats_.transfer_seconds += since(t);
  stats_.wire_bytes += wire.size();
  ++stats_.messages;
}

size_t SecureLink::wait(Transport::Handle h) {
  const auto t = Clock::now();
  const size_t got = transport_.wait(h);
  stats_.transfer_seconds += since(t);
  return got;
}

std::string SecureLink::all_to_all(Phase phase, std::span<const uint8_t> mine,
                                   std::vector<std::vector<uint8_t>>& theirs) {
  FT_CHECK(keys_ != nullptr);
  const int n = size(), me = self();
  const size_t msg = wire_bytes(mine.size());
  send_wire_.resize(msg * n);
  recv_wire_.resize((msg + kSlack) * n);
  theirs.assign(n, std::vector<uint8_t>(mine.size()));
  std::vector<Transport::Handle> recvs(n, -1), sends;
  for (int p = 0; p < n; ++p)
    if (p != me) recvs[p] = transport_.irecv(p, static_cast<int>(phase), {recv_wire_.data() + p * (msg + kSlack), msg + kSlack});
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    const auto t = Clock::now();
    seal_message(keys_->to(p), header(phase, 0, me, p, 0, 1, mine.size()), mine.data(), send_wire_.data() + p * msg);
    stats_.seal_seconds += since(t);
    send(p, phase, {send_wire_.data() + p * msg, msg}, sends);
  }
  std::string failure;
  std::vector<size_t> got(n, 0);
  if (phase == Phase::kTotals && log_ != nullptr) {  // the round's last messages are out: its lines to disk,
    const auto t = Clock::now();                     // while the other leaders' totals travel
    log_->sync();
    stats_.log_seconds += since(t);
  }
  for (int p = 0; p < n; ++p)
    if (p != me) got[p] = wait(recvs[p]);
  for (auto h : sends) wait(h);
  for (int p = 0; p < n; ++p) {
    if (p == me) {
      theirs[p].assign(mine.begin(), mine.end());
      continue;
    }
    const MessageHeader expected = header(phase, 0, p, me, 0, 1, mine.size());
    const auto t = Clock::now();
    std::string why = open_message(keys_->from(p), expected, recv_wire_.data() + p * (msg + kSlack), got[p], theirs[p].data());
    stats_.open_seconds += since(t);
    if (!why.empty() && failure.empty()) failure = describe(expected, why);
  }
  return failure;
}

std::string SecureLink::ring_step(Phase phase, uint32_t step, int to, std::span<const uint8_t> send_data, int from,
                                  size_t recv_bytes, size_t chunk_bytes, const ChunkSink& sink) {
  FT_CHECK(keys_ != nullptr && chunk_bytes > 0);
  const int me = self();
  auto chunks_of = [&](size_t bytes) { return static_cast<uint32_t>(std::max<size_t>(1, (bytes + chunk_bytes - 1) / chunk_bytes)); };
  const uint32_t n_send = chunks_of(send_data.size()), n_recv = chunks_of(recv_bytes);
  auto chunk_len = [&](size_t total, uint32_t c) { return std::min(chunk_bytes, total - std::min(total, size_t{c} * chunk_bytes)); };
  const size_t slot = wire_bytes(chunk_bytes) + kSlack;
  send_wire_.resize(slot * n_send);
  recv_wire_.resize(slot * n_recv);

  std::vector<Transport::Handle> recvs(n_recv), sends;
  for (uint32_t c = 0; c < n_recv; ++c)
    recvs[c] = transport_.irecv(from, static_cast<int>(phase), {recv_wire_.data() + c * slot, slot});

  std::string failure;
  uint32_t next_open = 0;
  auto open_chunk = [&](uint32_t c, size_t got) {
    const size_t len = chunk_len(recv_bytes, c);
    const MessageHeader expected = header(phase, step, from, me, c, n_recv, len);
    uint8_t* wire = recv_wire_.data() + c * slot;
    const auto t = Clock::now();
    // Opened in place: the plaintext lands in the wire buffer and reaches the sink only once verified.
    std::string why = open_message(keys_->from(from), expected, wire, got, wire + wire_offset::kPayload);
    stats_.open_seconds += since(t);
    if (!why.empty()) {
      if (failure.empty()) failure = describe(expected, why);
      return;
    }
    if (failure.empty()) sink(size_t{c} * chunk_bytes, wire + wire_offset::kPayload, len);
  };

  for (uint32_t c = 0; c < n_send; ++c) {
    const size_t len = chunk_len(send_data.size(), c);
    uint8_t* wire = send_wire_.data() + c * slot;
    const auto t = Clock::now();
    seal_message(keys_->to(to), header(phase, step, me, to, c, n_send, len), send_data.data() + size_t{c} * chunk_bytes, wire);
    stats_.seal_seconds += since(t);
    send(to, phase, {wire, wire_bytes(len)}, sends);
    // Open whatever has arrived meanwhile, in order.
    size_t got = 0;
    while (next_open < n_recv) {
      const auto t_test = Clock::now();
      const bool arrived = transport_.test(recvs[next_open], &got);
      stats_.transfer_seconds += since(t_test);
      if (!arrived) break;
      open_chunk(next_open++, got);
    }
  }
  while (next_open < n_recv) {
    const size_t got = wait(recvs[next_open]);
    open_chunk(next_open++, got);
  }
  for (auto h : sends) wait(h);
  return failure;
}

}  // namespace fedtrain
