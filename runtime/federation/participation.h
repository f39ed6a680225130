// Which sites take part in a round: decided identically on every leader from the statuses they exchanged.
//
// A site sits the round out when its update has non-finite values, when
// its norm exceeds federation.max_update_norm (if set), or when it reports a
// sample count no site can hold (not a whole number from 1 to 2^53). Both the
// norm and the count are the site's own word: they stop accidents and
// impossible values, not a site that lies (docs/security.md). Below
// federation.min_sites participants the round is abandoned and the global
// model stays as it was. Every leader also sends the hash of the global model
// it holds; leaders that hold different models cannot continue.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/crypto/sha256.h"

namespace fedtrain {

struct UpdateStatus {
  bool ready = true;
  bool finite = true;
  double samples = 0.0;   // the site's weight: rows of its training data
  double norm = 0.0;      // L2 norm of its pseudo-gradient
  Sha256Digest global{};  // hash of the global model the site started the round from

  static constexpr size_t kWireBytes = 2 + 8 + 8 + 32;
  void encode(uint8_t* out) const;
  static UpdateStatus decode(const uint8_t* in);
};

struct Participation {
  std::vector<bool> takes_part;      // per site
  std::vector<std::string> reasons;  // per site: why it sits out ("" if it takes part)
  double total_samples = 0.0;        // over the participants
  int participants = 0;
  bool abandoned = false;            // below quorum
};

Participation decide_participation(const std::vector<UpdateStatus>& statuses, int min_sites, double max_update_norm);

}  // namespace fedtrain
