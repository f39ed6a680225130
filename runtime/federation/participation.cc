// Which sites take part in a round.
#include "runtime/federation/participation.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

namespace fedtrain {
namespace {

// A site's weight is the number of rows of its training data: a whole number, at least 1, and at most
// 2^53, above which a double no longer holds every whole number.
// Anything else no site can hold. Taken into the total it would zero every honest weight (inf, 1e300),
// make every weight NaN, or give weights that do not sum to 1 (0, negative).
bool possible_sample_count(double samples) {
  return samples >= 1.0 && samples <= std::ldexp(1.0, 53) && std::floor(samples) == samples;
}

}  // namespace

void UpdateStatus::encode(uint8_t* out) const {
  out[0] = ready ? 1 : 0;
  out[1] = finite ? 1 : 0;
  std::memcpy(out + 2, &samples, 8);
  std::memcpy(out + 10, &norm, 8);
  std::memcpy(out + 18, global.data(), global.size());
}

UpdateStatus UpdateStatus::decode(const uint8_t* in) {
  UpdateStatus s;
  s.ready = in[0] == 1;
  s.finite = in[1] == 1;
  std::memcpy(&s.samples, in + 2, 8);
  std::memcpy(&s.norm, in + 10, 8);
  std::memcpy(s.global.data(), in + 18, s.global.size());
  return s;
}

Participation decide_participation(const std::vector<UpdateStatus>& statuses, int min_sites, double max_update_norm) {
  Participation p;
  p.takes_part.assign(statuses.size(), false);
  p.reasons.assign(statuses.size(), "");
  for (size_t s = 0; s < statuses.size(); ++s) {
    const UpdateStatus& st = statuses[s];
    std::ostringstream why;
    if (!st.ready) why << "not ready";
    else if (!st.finite || !std::isfinite(st.norm)) why << "its update has non-finite values";
    else if (max_update_norm > 0.0 && st.norm > max_update_norm)
      why << "its update norm " << st.norm << " exceeds federation.max_update_norm = " << max_update_norm;
    else if (!possible_sample_count(st.samples))
      why << "it reports an impossible sample count " << std::setprecision(15) << st.samples
          << " (a count of training rows is a whole number from 1 to 2^53)";
    p.reasons[s] = why.str();
    if (p.reasons[s].empty()) {
      p.takes_part[s] = true;
      p.total_samples += st.samples;
      ++p.participants;
    }
  }
  p.abandoned = p.participants < min_sites;
  return p;
}

}  // namespace fedtrain
