// The per-round report of rank 0: a table on stdout and one JSON object per line in the metrics file.
//
// JSON keys: job_id, round, sites, participating, train_loss, test_loss,
// test_accuracy (fraction), egress_bytes (bytes that left any site this
// round), seconds (wall time of the round), and the phase times
// local_seconds, site_allreduce_seconds, aggregation_seconds,
// evaluation_seconds, checkpoint_seconds (as measured on rank 0).
// A language model (model.kind = gpt) reports, instead of test_loss and
// test_accuracy: val_bpb (validation bits per byte, the mean over sites
// weighted by their validation bytes), site_val_bpb (an object: site -> value)
// and tokens_per_second (bytes trained per second of the round, all sites).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/metrics/round_metrics.h"

namespace fedtrain {

class RoundReport final : public RoundObserver {
 public:
  // Creates the metrics file (and its directory), truncating an old one; a
  // run resumed after round `keep_through_round` (> 0) keeps the old file's
  // lines of rounds up to that one and appends.
  // `sites` names the sites in order; `language_model`: gpt's columns.
  RoundReport(const std::string& metrics_path, const std::string& job_id, std::FILE* table,
              int64_t keep_through_round = 0, std::vector<std::string> sites = {}, bool language_model = false);
  ~RoundReport();
  RoundReport(const RoundReport&) = delete;
  RoundReport& operator=(const RoundReport&) = delete;

  void on_round_end(const RoundMetrics& m) override;
  // The one-line summary at the end of a run.
  void finish(const std::string& layout, double total_seconds);

  const std::string& path() const { return path_; }

 private:
  void print_row(const RoundMetrics& m);
  void write_json(const RoundMetrics& m);

  std::string path_, job_id_;
  std::vector<std::string> sites_;
  bool language_model_ = false;
  std::FILE* table_;
  std::FILE* json_ = nullptr;
  RoundMetrics last_;
  uint64_t egress_total_ = 0;
  bool header_done_ = false;
};

// "1.80 MiB"
std::string human_bytes(uint64_t bytes);

}  // namespace fedtrain
