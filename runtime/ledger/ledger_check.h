// The check of a whole ledger: every line a record, the chain, the order of rounds, every signature.
//
// What it finds, each named by its line: a line that is not a record (or not
// in canonical form), a broken chain (a line edited, removed, moved or
// inserted; lines removed from the start), a round that does not come after
// the one before, a record of another job, a participant or signer that the
// manifest does not list, a participant that did not sign, a signature that
// does not verify against its site's key in the manifest, and a last line cut
// short. What it cannot find by itself: whole records cut from the end (keep
// the head it prints, or compare with another site's ledger), and a ledger
// rewritten by a majority of colluding sites (docs/security.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/crypto/sha256.h"
#include "runtime/ledger/signing_manifest.h"

namespace fedtrain {

struct LedgerProblem {
  uint64_t line = 0;  // 1-based
  std::string what;
};

// A record that parsed, as the writer and the checkpoint comparison need it.
struct LedgerEntry {
  uint64_t line = 0;
  uint64_t round = 0, attempt = 0;
  Sha256Digest model{};
  uint64_t end_offset = 0;  // bytes of the file up to and including this line's '\n'
  Sha256Digest hash{};      // of the line, its '\n' included
};

struct LedgerCheck {
  std::string job;                  // the job the ledger belongs to
  uint64_t lines = 0;               // records, damaged ones included
  std::vector<LedgerEntry> entries; // the records that parsed, in file order
  Sha256Digest head{};              // hash of the last complete line; the genesis value when empty
  uint64_t signatures = 0;          // signatures checked and valid
  std::vector<LedgerProblem> problems;  // empty: intact
  uint64_t problems_left_out = 0;       // beyond the first kMaxProblems
  static constexpr size_t kMaxProblems = 20;
  bool intact() const { return problems.empty(); }
};

struct LedgerCheckOptions {
  std::string job;              // the job the ledger must belong to; "" takes the first record's
  bool every_signature = true;  // false: only the last record's signatures (a leader's start-up check)
};

// Reads the ledger at `fd` from its start (pread: the offset is left alone).
// `path` names it in errors. Throws Error when the file cannot be read.
LedgerCheck check_ledger(int fd, const std::string& path, const SigningManifest& keys, const LedgerCheckOptions& options);
// The same for a path (opened read-only). Throws Error when it cannot be opened or read.
LedgerCheck check_ledger(const std::string& path, const SigningManifest& keys, const LedgerCheckOptions& options);

}  // namespace fedtrain
