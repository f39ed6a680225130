// Which round a federation resumes from: each leader checks its own checkpoints, the leaders agree.
//
// Protocol (before the first round, collective over the federation):
//   1. every leader scans its site's checkpoint_dir (scan_checkpoints): each
//      round-N.h5 is read in full in a child process (a file that crashes
//      libhdf5 is skipped as damaged: runtime/io/child_process.h) and checked
//      (hashes, format), then compared
//      with this run (job id, sites, model layout, optimizer buffers, rank
//      count, federation manifest); leftover *.tmp files are removed. Rejected files are logged
//      with the reason, naming file and dataset or attribute.
//   2. the leaders exchange their scans over the leaders' group (allgather,
//      collectives/leader_group.h) and
//      every leader computes the same decide_resume(): the newest round that
//      every site holds intact, a fresh start when no site holds anything, a
//      refusal (ConfigError, exit 2) when the checkpoints were written for
//      other sites, another model or under another federation manifest, or a
//      failure (exit 1) when the sites' intact rounds have nothing in common.
//      Every leader decides alike from the same scans, so a refusal or failure
//      is a collective Error: rank 0 reports it, every rank exits with its code.
//   3. each leader broadcasts the decision in its site; on a resume each
//      leader reads its file of that round and broadcasts the state in its site.
// Steps 2 and 3 are in federation/checkpointer.cc; this file has no MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/checkpoint/checkpoint_store.h"

namespace fedtrain {

// What a checkpoint must match to continue this run.
struct CheckpointExpectation {
  std::string job_id;
  std::string site;
  std::vector<std::string> sites;
  std::string model_layout;
  std::vector<std::string> inner_buffers;  // names, in order
  std::vector<std::string> outer_buffers;
  size_t site_ranks = 0;
  // The federation manifest's SHA-256 (hex) of this run, "" in plaintext mode. A checkpoint
  // written under another manifest (a site's key changed) does not fit, unless the change is
  // allowed (checkpoint.allow_manifest_change); a checkpoint or run without one is not compared.
  std::string manifest_sha256;
  bool allow_manifest_change = false;
};

// Why checkpoint `c` (read from `path`) cannot continue this run, "" if it can.
// `other_job` is set when it belongs to another job altogether.
std::string checkpoint_misfit(const std::string& path, const Checkpoint& c, const CheckpointExpectation& e,
                              bool* other_job);

// One leader's findings in its checkpoint directory.
struct SiteScan {
  std::vector<int64_t> intact;   // rounds that fit this run, newest first
  int damaged = 0;               // unreadable, or failing a hash or format check
  int misfit = 0;                // of this job, but written for other sites, model, optimizer or ranks
  int foreign = 0;               // of another job
  std::string misfit_reason;     // of the newest misfit
  std::string foreign_job;       // the job id of a foreign file
  std::string error;             // the directory itself could not be used
  int files() const { return static_cast<int>(intact.size()) + damaged + misfit + foreign; }
};

// Step 1 (leaders). Never throws for a bad file or directory: that is what the scan reports.
SiteScan scan_checkpoints(const CheckpointStore& store, const CheckpointExpectation& expect);

// Text form of a scan, for the exchange among leaders.
std::string encode_scan(const SiteScan& scan);
SiteScan decode_scan(const std::string& text);

struct ResumeDecision {
  enum Kind { kFresh = 0, kResume = 1, kRefuse = 2, kFail = 3 };
  Kind kind = kFresh;
  int64_t round = 0;    // kResume: the round to continue after
  std::string message;  // kRefuse, kFail: what is wrong and what to do
};

// Step 2: the same on every leader, given every site's scan (in site order).
// `resume_required` is --resume: then finding nothing is a failure.
ResumeDecision decide_resume(const std::string& job_id, const std::vector<std::string>& site_names,
                             const std::vector<std::string>& site_dirs, const std::vector<SiteScan>& scans,
                             bool resume_required);

}  // namespace fedtrain
