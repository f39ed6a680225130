// Test-only: a leader that damages its own outgoing messages, as --inject asks (docs/testing.md).
//
// It stands for an active attacker on the inter-site network, placed at the
// sending leader: the message leaves with a flipped bit (tamper), cut in half
// (truncate), after the next chunk (reorder), replaced by its twin of the
// previous round (replay), or sealed for another leader (misroute). Every
// kind acts once, on the first message that matches (site, round, attempt,
// phase), so a test can check that exactly that attempt fails everywhere.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/core/injection.h"

namespace fedtrain {

class FaultyTransport final : public Transport {
 public:
  FaultyTransport(Transport& inner, std::vector<Injection> injections, std::string site);

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override;
  Handle irecv(int peer, int tag, std::span<uint8_t> buffer) override;
  size_t wait(Handle h) override;
  bool test(Handle h, size_t* bytes) override;
  size_t wait_any(std::span<Handle> handles, size_t* bytes) override;
  bool can_wake() const override { return inner_.can_wake(); }
  void wake() override { inner_.wake(); }
  size_t wait_any_or_woken(std::span<Handle> handles, size_t* bytes) override;

 private:
  size_t wait_first(std::span<Handle> handles, size_t* bytes, bool wakeable);
  struct Slot {
    Handle inner = -1;  // -1: held back (reorder) until the next chunk goes
    bool done = false;
  };
  Handle add_slot(Handle inner);
  std::span<const uint8_t> keep(std::span<const uint8_t> bytes);

  Transport& inner_;
  std::vector<Injection> injections_;
  std::string site_;
  std::set<std::tuple<size_t, uint64_t, uint64_t>> fired_;  // (injection, round, attempt)
  std::deque<std::vector<uint8_t>> kept_;                    // copies that must outlive their send
  // replay: messages by (phase, step, chunk, peer) of the previous and current round
  std::map<std::tuple<int, uint32_t, uint32_t, int>, std::vector<uint8_t>> previous_, current_;
  uint64_t current_round_ = 0;
  std::map<int, std::vector<uint8_t>> last_to_peer_;  // misroute: last status message per peer
  struct Held {
    Handle slot;
    int peer, tag;
    std::span<const uint8_t> bytes;
  };
  std::vector<Held> held_;
  std::vector<Slot> slots_;
};

}  // namespace fedtrain
