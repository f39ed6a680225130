// Test-only: a leader that damages its own outgoing messages.
#include "runtime/federation/fault_injection.h"

#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/federation/sealed_message.h"

namespace fedtrain {
namespace {

bool is_sealed(std::span<const uint8_t> b) { return b.size() >= kHeaderBytes && std::memcmp(b.data(), "FTSA", 4) == 0; }

// Byte of the message whose lowest bit a tamper of `field` flips.
size_t field_offset(const std::string& field, size_t message_bytes) {
  if (field == "phase") return 6;
  if (field == "job") return 8;
  if (field == "round") return wire_offset::kRound;
  if (field == "attempt") return wire_offset::kAttempt;
  if (field == "sender") return wire_offset::kSender;
  if (field == "receiver") return wire_offset::kReceiver;
  if (field == "step") return wire_offset::kStep;
  if (field == "chunk") return wire_offset::kChunk;
  if (field == "chunk_count") return wire_offset::kChunkCount;
  if (field == "length") return wire_offset::kLength;
  if (field == "nonce") return wire_offset::kNonce + 3;
  if (field == "ciphertext") return wire_offset::kPayload;
  if (field == "tag") return message_bytes - kGcmTagBytes + 5;
  throw ConfigError("--inject tamper: unknown field '" + field +
                    "'; fields: phase, job, round, attempt, sender, receiver, step, chunk, chunk_count, length, "
                    "nonce, ciphertext, tag");
}

}  // namespace

FaultyTransport::FaultyTransport(Transport& inner, std::vector<Injection> injections, std::string site)
    : inner_(inner), injections_(std::move(injections)), site_(std::move(site)) {
  for (const auto& in : injections_)
    if (in.kind == "tamper") field_offset(in.get("field", "ciphertext"), 1000);  // reject bad fields at start
}

Transport::Handle FaultyTransport::add_slot(Handle inner) {
  slots_.push_back(Slot{inner, false});
  return static_cast<Handle>(slots_.size() - 1);
}

std::span<const uint8_t> FaultyTransport::keep(std::span<const uint8_t> bytes) {
  kept_.emplace_back(bytes.begin(), bytes.end());
  if (kept_.size() > 4096) kept_.pop_front();
  return kept_.back();
}

Transport::Handle FaultyTransport::isend(int peer, int tag, std::span<const uint8_t> bytes) {
  if (!is_sealed(bytes)) return add_slot(inner_.isend(peer, tag, bytes));
  const MessageHeader h = peek_header(bytes.data());
  const std::string phase = phase_name(static_cast<Phase>(h.phase));
  if (h.round != current_round_) {
    previous_ = std::move(current_);
    current_.clear();
    current_round_ = h.round;
  }
  const auto key = std::make_tuple(static_cast<int>(h.phase), h.step, h.chunk, peer);
  bool wants_replay = false;
  for (const auto& in : injections_) wants_replay = wants_replay || (in.kind == "replay" && in.site == site_);
  if (wants_replay) current_[key] = std::vector<uint8_t>(bytes.begin(), bytes.end());

  std::span<const uint8_t> out = bytes;
  for (size_t i = 0; i < injections_.size(); ++i) {
    const Injection& in = injections_[i];
    if (!in.matches(site_, static_cast<int64_t>(h.round), h.attempt)) continue;
    const std::string want_phase = in.get("phase", in.kind == "misroute" ? "status" : "reduce-scatter");
    if (phase != want_phase || fired_.count({i, h.round, h.attempt})) continue;
    if (in.kind == "tamper") {
      std::vector<uint8_t> copy(bytes.begin(), bytes.end());
      copy[field_offset(in.get("field", "ciphertext"), copy.size())] ^= 1;
      out = keep(copy);
    } else if (in.kind == "truncate") {
      out = bytes.first(bytes.size() / 2);
    } else if (in.kind == "replay") {
      auto it = previous_.find(key);
      if (it == previous_.end()) continue;  // nothing to replay yet
      out = keep(it->second);
    } else if (in.kind == "misroute") {
      // The message this leader sealed for another peer, delivered here instead.
      auto other = last_to_peer_.begin();
      while (other != last_to_peer_.end() && other->first == peer) ++other;
      if (other == last_to_peer_.end()) {
        last_to_peer_[peer] = std::vector<uint8_t>(bytes.begin(), bytes.end());
        continue;  // the first peer of the phase: remember, misroute the next
      }
      out = keep(other->second);
    } else if (in.kind == "reorder") {
      if (h.chunk_count < 2 || h.chunk != 0) continue;
      Handle slot = add_slot(-1);
      held_.push_back(Held{slot, peer, tag, keep(bytes)});
      fired_.insert({i, h.round, h.attempt});
      return slot;  // sent after chunk 1
    } else {
      continue;
    }
    fired_.insert({i, h.round, h.attempt});
    break;
  }
  if (phase == "status") last_to_peer_[peer] = std::vector<uint8_t>(bytes.begin(), bytes.end());
  const Handle slot = add_slot(inner_.isend(peer, tag, out));
  for (auto it = held_.begin(); it != held_.end();) {  // chunk 1 went: now chunk 0
    if (it->peer == peer && it->tag == tag) {
      slots_[it->slot].inner = inner_.isend(it->peer, it->tag, it->bytes);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  return slot;
}

Transport::Handle FaultyTransport::irecv(int peer, int tag, std::span<uint8_t> buffer) {
  return add_slot(inner_.irecv(peer, tag, buffer));
}

size_t FaultyTransport::wait(Handle h) {
  FT_CHECK(slots_[h].inner >= 0, "waiting for a message held back by --inject reorder");
  slots_[h].done = true;
  return inner_.wait(slots_[h].inner);
}

bool FaultyTransport::test(Handle h, size_t* bytes) {
  if (slots_[h].inner < 0) return false;
  const bool done = inner_.test(slots_[h].inner, bytes);
  slots_[h].done = done;
  return done;
}

size_t FaultyTransport::wait_any(std::span<Handle> handles, size_t* bytes) { return wait_first(handles, bytes, false); }

size_t FaultyTransport::wait_any_or_woken(std::span<Handle> handles, size_t* bytes) {
  return wait_first(handles, bytes, true);
}

size_t FaultyTransport::wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable) {
  std::vector<Handle> inner(handles.size(), -1);
  for (size_t i = 0; i < handles.size(); ++i)
    if (handles[i] >= 0) inner[i] = slots_[handles[i]].inner;
  size_t i = 0;
  try {
    i = wakeable ? inner_.wait_any_or_woken(inner, bytes) : inner_.wait_any(inner, bytes);
  } catch (...) {
    // The inner transport marked the handle it failed taken (-1) before it threw (a PeerError):
    // so must this one, for a caller that goes on without that peer (MemberTransport).
    for (size_t j = 0; j < handles.size(); ++j) {
      if (handles[j] >= 0 && inner[j] < 0 && slots_[handles[j]].inner >= 0) {
        slots_[handles[j]].done = true;
        handles[j] = -1;
      }
    }
    throw;
  }
  if (i == kWoken) return kWoken;
  slots_[handles[i]].done = true;
  handles[i] = -1;
  return i;
}

}  // namespace fedtrain
