// What one federation round measured, and the interface of whoever wants to hear about it.
#pragma once

#include <cstdint>
#include <vector>

namespace fedtrain {

// Wall-clock seconds of the phases of one round, on the rank that measured them.
struct PhaseSeconds {
  double local_steps = 0.0;     // the H inner steps, site all-reduces included
  double site_allreduce = 0.0;  // of which: gradient all-reduces over site_comm
  double aggregation = 0.0;     // leaders: pseudo-gradient, exchange, outer step, hash check
  double evaluation = 0.0;      // evaluating site: test loss and accuracy
  double checkpoint = 0.0;      // leaders: writing the round's checkpoint
};

// Valid on every site leader once the round is over (totals are exchanged
// among the leaders); test values come from the evaluating site.
struct RoundMetrics {
  int64_t round = 0;
  int sites = 0;
  int participating = 0;
  double train_loss = 0.0;
  double test_loss = 0.0;             // mlp: the first site's test set
  double test_accuracy = 0.0;
  std::vector<double> site_val_bpb;   // gpt: each site's validation bits per byte, in site order
  double val_bpb = 0.0;               // gpt: their mean weighted by validation bytes
  double samples_per_second = 0.0;    // trained samples (images, or predicted bytes) per second of the round, all sites
  uint64_t egress_bytes = 0;       // all leaders together: bytes that crossed site borders this round
  uint64_t site_egress_bytes = 0;  // this leader only
  double seconds = 0.0;            // wall time of the round
  PhaseSeconds phases;
};

// Told about every finished round (the table, the Prometheus exporter, ...).
class RoundObserver {
 public:
  virtual ~RoundObserver() = default;
  virtual void on_round_end(const RoundMetrics& m) = 0;
};

}  // namespace fedtrain
