// Which sites take part in a round.
#include "runtime/federation/participation.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace fedtrain {

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
    else if (!(st.samples > 0.0)) why << "it reports no training samples";
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
