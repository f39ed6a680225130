// The per-round report of rank 0.
#include "runtime/metrics/round_report.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/core/error.h"

namespace fedtrain {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

RoundReport::RoundReport(const std::string& metrics_path, const std::string& job_id, std::FILE* table,
                         int64_t keep_through_round, std::vector<std::string> sites, bool language_model)
    : path_(metrics_path), job_id_(job_id), sites_(std::move(sites)), language_model_(language_model), table_(table) {
  std::filesystem::path p(metrics_path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  // A resumed run keeps the rounds it continues from (lines of later rounds
  // came from a run that stopped before checkpointing them).
  std::string kept;
  if (keep_through_round > 0) {
    std::ifstream old(metrics_path);
    std::string line;
    while (std::getline(old, line)) {
      const size_t at = line.find("\"round\":");
      if (at != std::string::npos && std::atoll(line.c_str() + at + 8) <= keep_through_round) kept += line + "\n";
    }
  }
  json_ = std::fopen(metrics_path.c_str(), "w");
  if (json_ != nullptr && (std::fputs(kept.c_str(), json_) < 0 || std::fflush(json_) != 0)) {
    std::fclose(json_);
    json_ = nullptr;
  }
  if (json_ == nullptr)
    throw Error("cannot create metrics file '" + metrics_path + "': " + std::strerror(errno) +
                "; set run.metrics_file to a writable path");
}

RoundReport::~RoundReport() {
  if (json_ != nullptr) std::fclose(json_);
}

void RoundReport::on_round_end(const RoundMetrics& m) {
  print_row(m);
  write_json(m);
  last_ = m;
  egress_total_ += m.egress_bytes;
}

void RoundReport::print_row(const RoundMetrics& m) {
  char sites[32];
  std::snprintf(sites, sizeof sites, "%d/%d", m.participating, m.sites);
  if (!language_model_) {
    if (!header_done_)
      std::fprintf(table_, "%6s %7s %11s %10s %9s %12s %9s\n", "round", "sites", "train_loss", "test_loss",
                   "test_acc", "egress", "seconds");
    std::fprintf(table_, "%6lld %7s %11.4f %10.4f %8.2f%% %12s %9.2f\n", static_cast<long long>(m.round), sites,
                 m.train_loss, m.test_loss, 100.0 * m.test_accuracy, human_bytes(m.egress_bytes).c_str(), m.seconds);
  } else {
    if (!header_done_) {
      std::fprintf(table_, "%6s %7s %10s %9s %8s", "round", "sites", "train_bpb", "tokens/s", "val_bpb");
      for (const auto& s : sites_) std::fprintf(table_, " %7s", ("bpb_" + s).c_str());
      std::fprintf(table_, " %12s %9s\n", "egress", "seconds");
    }
    std::fprintf(table_, "%6lld %7s %10.4f %9.0f %8.4f", static_cast<long long>(m.round), sites,
                 m.train_loss / std::log(2.0), m.samples_per_second, m.val_bpb);
    for (double v : m.site_val_bpb) std::fprintf(table_, " %7.4f", v);
    std::fprintf(table_, " %12s %9.2f\n", human_bytes(m.egress_bytes).c_str(), m.seconds);
  }
  header_done_ = true;
  std::fflush(table_);
}

void RoundReport::write_json(const RoundMetrics& m) {
  std::string evaluation;
  char buf[128];
  if (!language_model_) {
    std::snprintf(buf, sizeof buf, "\"test_loss\":%.6g,\"test_accuracy\":%.6g", m.test_loss, m.test_accuracy);
    evaluation = buf;
  } else {
    std::snprintf(buf, sizeof buf, "\"val_bpb\":%.6g,\"tokens_per_second\":%.6g,\"site_val_bpb\":{", m.val_bpb,
                  m.samples_per_second);
    evaluation = buf;
    for (size_t s = 0; s < m.site_val_bpb.size() && s < sites_.size(); ++s) {
      std::snprintf(buf, sizeof buf, "%s\"%s\":%.6g", s == 0 ? "" : ",", sites_[s].c_str(), m.site_val_bpb[s]);
      evaluation += buf;
    }
    evaluation += "}";
  }
  std::fprintf(json_,
               "{\"job_id\":\"%s\",\"round\":%lld,\"sites\":%d,\"participating\":%d,\"train_loss\":%.6g,"
               "%s,\"egress_bytes\":%llu,\"seconds\":%.6g,"
               "\"local_seconds\":%.6g,\"site_allreduce_seconds\":%.6g,\"aggregation_seconds\":%.6g,"
               "\"evaluation_seconds\":%.6g,\"checkpoint_seconds\":%.6g}\n",
               job_id_.c_str(), static_cast<long long>(m.round), m.sites, m.participating, m.train_loss,
               evaluation.c_str(), static_cast<unsigned long long>(m.egress_bytes), m.seconds, m.phases.local_steps,
               m.phases.site_allreduce, m.phases.aggregation, m.phases.evaluation, m.phases.checkpoint);
  if (std::fflush(json_) != 0) throw Error("cannot write metrics file '" + path_ + "': " + std::strerror(errno));
}

void RoundReport::finish(const std::string& layout, double total_seconds) {
  if (language_model_) {
    std::string per_site;
    for (size_t s = 0; s < last_.site_val_bpb.size() && s < sites_.size(); ++s) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s %.4f", s == 0 ? "" : ", ", sites_[s].c_str(), last_.site_val_bpb[s]);
      per_site += buf;
    }
    std::fprintf(table_,
                 "fedtrain: job %s done: %lld rounds, sites %s, validation bits per byte %.4f (%s), %s crossed "
                 "site borders, %.1f s\n",
                 job_id_.c_str(), static_cast<long long>(last_.round), layout.c_str(), last_.val_bpb,
                 per_site.c_str(), human_bytes(egress_total_).c_str(), total_seconds);
    std::fflush(table_);
    return;
  }
  std::fprintf(table_,
               "fedtrain: job %s done: %lld rounds, sites %s, test accuracy %.2f%%, test loss %.4f, "
               "%s crossed site borders, %.1f s\n",
               job_id_.c_str(), static_cast<long long>(last_.round), layout.c_str(), 100.0 * last_.test_accuracy,
               last_.test_loss, human_bytes(egress_total_).c_str(), total_seconds);
  std::fflush(table_);
}

}  // namespace fedtrain
