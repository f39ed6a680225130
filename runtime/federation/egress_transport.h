// The leaders' own traffic outside the secure exchange, in the site's egress log.
//
// SecureLink records every message of the secure exchange (status, ring,
// outcome, totals), agree_settings the settings digests and JoinDesk the join
// answers and welcomes. The other messages a leader sends are the leaders'
// agreements (LeaderGroup: start-up checks, the device plan, resume, checkpoint
// commits, the stop at a round boundary) and, with one job per site, the
// membership reports (Membership). This decorator appends each of those to the
// egress log before it is sent, under one phase name ("agreement",
// "membership") and the round the leaders are at (0 before the first), so
// that the log holds every message that left the site.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/federation/egress_log.h"

namespace fedtrain {

class EgressTransport : public TransportDecorator {
 public:
  // `sites[i]` names transport rank i; `round` is read at each send. All must outlive this.
  EgressTransport(Transport& inner, EgressLog& log, const char* phase, const std::vector<std::string>& sites,
                  const int64_t& round)
      : TransportDecorator(inner), log_(log), phase_(phase), sites_(sites), round_(round) {}

  // Throws Error (and sends nothing) when the line cannot be written.
  Handle isend(int peer, int tag, std::span<const uint8_t> bytes) override {
    log_.record(static_cast<uint64_t>(round_), 0, phase_, sites_.at(static_cast<size_t>(peer)), bytes);
    return inner_.isend(peer, tag, bytes);
  }

 private:
  EgressLog& log_;
  const char* phase_;
  const std::vector<std::string>& sites_;
  const int64_t& round_;
};

}  // namespace fedtrain
