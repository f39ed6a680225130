// The per-round report of rank 0: a table on stdout and one JSON object per line in the metrics file.
//
// JSON keys: round, sites, participating, train_loss, test_loss,
// test_accuracy (fraction), egress_bytes (bytes that left any site this
// round), seconds (wall time of the round), job_id.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace fedtrain {

struct RoundMetrics {
  int64_t round = 0;
  int sites = 0;
  int participating = 0;
  double train_loss = 0.0;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  uint64_t egress_bytes = 0;
  double seconds = 0.0;
};

class RoundReport {
 public:
  // Creates the metrics file (and its directory), truncating an old one.
  RoundReport(const std::string& metrics_path, const std::string& job_id, std::FILE* table);
  ~RoundReport();
  RoundReport(const RoundReport&) = delete;
  RoundReport& operator=(const RoundReport&) = delete;

  void add(const RoundMetrics& m);
  // The one-line summary at the end of a run.
  void finish(const std::string& layout, double total_seconds);

  const std::string& path() const { return path_; }

 private:
  std::string path_, job_id_;
  std::FILE* table_;
  std::FILE* json_ = nullptr;
  RoundMetrics last_;
  uint64_t egress_total_ = 0;
  bool header_done_ = false;
};

// "1.80 MiB"
std::string human_bytes(uint64_t bytes);

}  // namespace fedtrain
