// Which round a federation resumes from.
#include "runtime/checkpoint/resume_agreement.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/io/child_process.h"

namespace fedtrain {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string rounds_text(const std::vector<int64_t>& rounds) {
  if (rounds.empty()) return "none";
  std::string out;
  for (int64_t r : rounds) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

// Escapes newlines so that a reason fits on one line of the scan text.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

std::string checkpoint_misfit(const std::string& path, const Checkpoint& c, const CheckpointExpectation& e,
                              bool* other_job) {
  *other_job = false;
  const std::string file = "checkpoint '" + path + "'";
  if (c.job_id != e.job_id) {
    *other_job = true;
    return file + " belongs to job '" + c.job_id + "', not to this job '" + e.job_id + "'";
  }
  if (c.site != e.site) return file + " was written by site '" + c.site + "', not by '" + e.site + "'";
  if (c.sites != e.sites)
    return file + " was written for the sites " + join(c.sites) + "; this run has the sites " + join(e.sites);
  if (c.model_layout != e.model_layout)
    return file + " holds another model (attribute 'model_layout' " + c.model_layout + "; this run's model is " +
           e.model_layout + ")";
  std::vector<std::string> inner, outer, want_inner = e.inner_buffers, want_outer = e.outer_buffers;
  for (const auto& b : c.inner) inner.push_back(b.name);
  for (const auto& b : c.outer) outer.push_back(b.name);
  for (auto* v : {&inner, &outer, &want_inner, &want_outer}) std::sort(v->begin(), v->end());
  if (inner != want_inner)
    return file + " holds inner optimizer state [" + join(inner) + "]; this run's inner optimizer needs [" +
           join(e.inner_buffers) + "]";
  if (outer != want_outer)
    return file + " holds outer optimizer state [" + join(outer) + "]; this run's outer optimizer needs [" +
           join(e.outer_buffers) + "]";
  if (c.data.size() != e.site_ranks)
    return file + " holds the data positions of " + std::to_string(c.data.size()) + " ranks; site '" + e.site +
           "' now has " + std::to_string(e.site_ranks) + " ranks";
  if (!c.manifest_sha256.empty() && !e.manifest_sha256.empty() && c.manifest_sha256 != e.manifest_sha256 &&
      !e.allow_manifest_change)
    return file + " was written under federation manifest " + c.manifest_sha256.substr(0, 16) +
           "; the current manifest is " + e.manifest_sha256.substr(0, 16) +
           " (a site key changed); to resume after a deliberate key rotation, pass "
           "--checkpoint.allow_manifest_change=true";
  return "";
}

namespace {

// What the scan makes of one file (the exit code of the child that checks it).
enum FileVerdict { kIntact = 0, kDamaged = 1, kMisfit = 2, kForeign = 3 };

// Reads and checks one file, with the reason (and, for another job's file, its job id on the first line).
int check_file(const std::string& path, int64_t round, const CheckpointExpectation& expect, std::string& why) {
  Checkpoint c;
  try {
    c = read_checkpoint_file(path);
  } catch (const Error& e) {
    why = e.what();
    return kDamaged;
  }
  if (c.round != round) {
    why = "checkpoint '" + path + "': attribute 'round' says " + std::to_string(c.round) + ", the file name another round";
    return kDamaged;
  }
  bool other_job = false;
  why = checkpoint_misfit(path, c, expect, &other_job);
  if (why.empty()) return kIntact;
  if (!other_job) return kMisfit;
  why = c.job_id + "\n" + why;
  return kForeign;
}

}  // namespace

SiteScan scan_checkpoints(const CheckpointStore& store, const CheckpointExpectation& expect) {
  SiteScan scan;
  try {
    for (const std::string& tmp : store.remove_temporaries())
      log_info("removed '" + tmp + "', left by a checkpoint write that did not finish");
    for (int64_t round : store.rounds()) {
      const std::string path = store.path_of(round);
      // Each file is read and checked in a child process: libhdf5 dies on some malformed files
      // (docs/security.md), and that must skip the file, not end the job.
      const ChildOutcome child = run_in_child([&](std::string& why) { return check_file(path, round, expect, why); });
      if (child.crashed(kForeign)) {
        ++scan.damaged;
        log_warn("checkpoint '" + path + "': the process reading it " + child.how() +
                 ": libhdf5 crashes on some malformed files, so the file is damaged or forged; skipping it");
        continue;
      }
      switch (child.exit_code) {
        case kIntact:
          scan.intact.push_back(round);
          log_debug("checkpoint '" + path + "' is intact");
          break;
        case kDamaged:
          ++scan.damaged;
          log_warn(child.message + "; skipping it");
          break;
        case kMisfit:
          ++scan.misfit;
          if (scan.misfit_reason.empty()) scan.misfit_reason = child.message;
          log_warn(child.message + "; skipping it");
          break;
        default: {  // kForeign
          const size_t nl = child.message.find('\n');
          ++scan.foreign;
          if (scan.foreign_job.empty()) scan.foreign_job = child.message.substr(0, nl);
          log_warn(child.message.substr(nl + 1) + "; skipping it");
        }
      }
    }
  } catch (const Error& e) {
    scan.error = e.what();
  }
  return scan;
}

std::string encode_scan(const SiteScan& s) {
  std::ostringstream out;
  out << "intact";
  for (int64_t r : s.intact) out << " " << r;
  out << "\ncounts " << s.damaged << " " << s.misfit << " " << s.foreign;
  out << "\nmisfit " << one_line(s.misfit_reason) << "\nforeign " << one_line(s.foreign_job) << "\nerror "
      << one_line(s.error) << "\n";
  return out.str();
}

SiteScan decode_scan(const std::string& text) {
  SiteScan s;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t sp = line.find(' ');
    const std::string key = line.substr(0, sp), rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    std::istringstream fields(rest);
    if (key == "intact") {
      int64_t r;
      while (fields >> r) s.intact.push_back(r);
    } else if (key == "counts") {
      fields >> s.damaged >> s.misfit >> s.foreign;
    } else if (key == "misfit") {
      s.misfit_reason = rest;
    } else if (key == "foreign") {
      s.foreign_job = rest;
    } else if (key == "error") {
      s.error = rest;
    }
  }
  return s;
}

ResumeDecision decide_resume(const std::string& job_id, const std::vector<std::string>& names,
                             const std::vector<std::string>& dirs, const std::vector<SiteScan>& scans,
                             bool resume_required) {
  ResumeDecision d;
  for (size_t i = 0; i < scans.size(); ++i) {
    if (!scans[i].error.empty()) {
      d.kind = ResumeDecision::kFail;
      d.message = "site '" + names[i] + "': " + scans[i].error;
      return d;
    }
  }
  // The newest round every site holds intact.
  std::set<int64_t> common(scans[0].intact.begin(), scans[0].intact.end());
  for (size_t i = 1; i < scans.size(); ++i) {
    std::set<int64_t> mine(scans[i].intact.begin(), scans[i].intact.end()), both;
    std::set_intersection(common.begin(), common.end(), mine.begin(), mine.end(), std::inserter(both, both.end()));
    common.swap(both);
  }
  if (!common.empty()) {
    d.kind = ResumeDecision::kResume;
    d.round = *common.rbegin();
    return d;
  }

  int files = 0, own = 0;
  for (const SiteScan& s : scans) {
    files += s.files();
    own += static_cast<int>(s.intact.size()) + s.damaged + s.misfit;
  }
  if (files == 0) {
    if (resume_required) {
      d.kind = ResumeDecision::kFail;
      d.message = "--resume: no site holds a checkpoint of job '" + job_id + "' (checkpoint_dir";
      for (size_t i = 0; i < names.size(); ++i) d.message += (i ? ", " : " ") + names[i] + ": " + dirs[i];
      d.message += "); run without --resume to start afresh";
    }
    return d;  // kFresh
  }
  for (size_t i = 0; i < scans.size(); ++i) {
    if (scans[i].misfit > 0 && scans[i].intact.empty()) {
      d.kind = ResumeDecision::kRefuse;
      d.message = "cannot resume job '" + job_id + "': " + scans[i].misfit_reason +
                  ". Resume with the configuration the checkpoints were written for, or start a new job "
                  "(another run.job_id and empty checkpoint directories)";
      return d;
    }
  }
  if (own == 0) {
    for (size_t i = 0; i < scans.size(); ++i) {
      if (scans[i].foreign == 0) continue;
      d.kind = ResumeDecision::kRefuse;
      d.message = "checkpoint_dir '" + dirs[i] + "' of site '" + names[i] + "' holds checkpoints of job '" +
                  scans[i].foreign_job + "', not of '" + job_id +
                  "': give every job checkpoint directories of its own";
      return d;
    }
  }
  d.kind = ResumeDecision::kFail;
  d.message = "job '" + job_id + "' has checkpoints, but no round is intact on every site (";
  for (size_t i = 0; i < scans.size(); ++i) {
    d.message += std::string(i ? "; " : "") + names[i] + ": intact rounds " + rounds_text(scans[i].intact);
    if (scans[i].damaged > 0) d.message += ", " + std::to_string(scans[i].damaged) + " damaged";
  }
  d.message += "; reasons above). Restore the missing checkpoints, or start afresh with another run.job_id and "
               "empty checkpoint directories";
  return d;
}

}  // namespace fedtrain
