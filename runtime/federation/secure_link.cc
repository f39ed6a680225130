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

Transport::Handle SecureLink::send(int peer, Phase phase, std::span<const uint8_t> wire) {
  if (log_ != nullptr) {  // before the send: no message leaves unrecorded
    const auto t = Clock::now();
    log_->record(keys_->round(), keys_->attempt(), phase_name(phase), sites_[peer], wire);
    stats_.log_seconds += since(t);
  }
  const auto t = Clock::now();  // MPI may copy data here (shared memory): counted as transfer
  const Transport::Handle h = transport_.isend(peer, static_cast<int>(phase), wire);
  stats_.transfer_seconds += since(t);
  stats_.wire_bytes += wire.size();
  ++stats_.messages;
  return h;
}

size_t SecureLink::wait(Transport::Handle h) {
  const auto t = Clock::now();
  const size_t got = transport_.wait(h);
  stats_.transfer_seconds += since(t);
  return got;
}

bool SecureLink::arrived(Transport::Handle h, size_t* bytes) {
  const auto t = Clock::now();
  const bool done = transport_.test(h, bytes);
  stats_.transfer_seconds += since(t);
  return done;
}

size_t SecureLink::wait_any(std::span<Transport::Handle> handles, size_t* bytes) {
  const auto t = Clock::now();
  const size_t i = transport_.wait_any(handles, bytes);
  stats_.transfer_seconds += since(t);
  return i;
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
    sends.push_back(send(p, phase, {send_wire_.data() + p * msg, msg}));
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

size_t SecureLink::chunk_slot_bytes(size_t chunk_bytes) { return wire_bytes(chunk_bytes) + kSlack; }

std::pair<uint8_t*, uint8_t*> SecureLink::chunk_buffers(size_t slots, size_t chunk_bytes) {
  const size_t bytes = slots * chunk_slot_bytes(chunk_bytes);
  if (send_wire_.size() < bytes) send_wire_.resize(bytes);
  if (recv_wire_.size() < bytes) recv_wire_.resize(bytes);
  return {send_wire_.data(), recv_wire_.data()};
}

Transport::Handle SecureLink::send_chunk(const ChunkId& id, int to, std::span<const uint8_t> plain, uint8_t* wire) {
  FT_CHECK(keys_ != nullptr);
  const auto t = Clock::now();
  seal_message(keys_->to(to), header(id.phase, id.step, self(), to, id.chunk, id.chunks, plain.size()), plain.data(), wire);
  stats_.seal_seconds += since(t);
  return send(to, id.phase, {wire, wire_bytes(plain.size())});
}

Transport::Handle SecureLink::post_chunk(Phase phase, int from, std::span<uint8_t> slot) {
  return transport_.irecv(from, static_cast<int>(phase), slot);
}

std::string SecureLink::open_chunk(const ChunkId& id, int from, size_t bytes, uint8_t* wire, size_t received) {
  FT_CHECK(keys_ != nullptr);
  const MessageHeader expected = header(id.phase, id.step, from, self(), id.chunk, id.chunks, bytes);
  const auto t = Clock::now();
  // Opened in place: the plaintext lands in the wire buffer and reaches the caller only once verified.
  std::string why = open_message(keys_->from(from), expected, wire, received, wire + wire_offset::kPayload);
  stats_.open_seconds += since(t);
  return why.empty() ? why : describe(expected, why);
}

}  // namespace fedtrain
