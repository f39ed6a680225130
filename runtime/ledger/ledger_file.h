// A site's ledger file: opened once by the site leader, checked, appended to durably, rolled back on resume.
//
// The writer, step by step:
//   open      open_append_only (no symlinks, one writer, mode 0640); an
//             existing ledger is checked whole (check_ledger: every line, the
//             chain; the last record's signatures) and its chain continued; a
//             damaged one is refused, naming the first problem and the
//             'fedtrain ledger verify' command
//   roll back (on start-up, after the leaders agreed on the round to resume
//             from) the records of rounds after it -- written by a run that went
//             further than its last checkpoint every site holds, then crashed
//             or was stopped -- are moved to PATH.discarded: appended there and
//             fsynced first, then cut from the ledger (ftruncate, fsync). Every
//             site cuts to the same record, so the chains agree again. A crash
//             in between leaves them in both files; the next start cuts again.
//   append    one write(2) of the record's line, then fsync: a round in the
//             ledger is on disk before the round's checkpoint is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/ledger/ledger_check.h"
#include "runtime/ledger/ledger_record.h"
#include "runtime/ledger/signing_manifest.h"

namespace fedtrain {

class LedgerFile {
 public:
  // Throws Error for a symlink, not a regular file, another writer, or a damaged ledger.
  LedgerFile(const std::string& path, const std::string& job, const SigningManifest& keys);
  ~LedgerFile();
  LedgerFile(const LedgerFile&) = delete;
  LedgerFile& operator=(const LedgerFile&) = delete;

  // Moves the records of rounds after `round` to PATH.discarded; returns how many.
  size_t roll_back_to(uint64_t round);
  // Appends `r` (whose prev must be head()) and fsyncs. Throws Error.
  void append(const LedgerRecord& r);

  const std::string& path() const { return path_; }
  const Sha256Digest& head() const { return head_; }
  uint64_t records() const { return entries_.size(); }
  uint64_t last_round() const { return entries_.empty() ? 0 : entries_.back().round; }

 private:
  std::string path_;
  int fd_ = -1;
  Sha256Digest genesis_{}, head_{};
  std::vector<LedgerEntry> entries_;
};

}  // namespace fedtrain
