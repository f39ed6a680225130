// Fuzz target: a site's ledger of rounds, checked as `fedtrain ledger verify` checks it (check_ledger
// with every signature, runtime/ledger/ledger_check.cc over ledger_record.cc) and as a leader checks
// its own ledger at start-up (LedgerFile: only the last record's signatures).
//
// Input: the ledger's bytes, held in a file; seeds are ledgers signed by the fixed keys of sites es
// and de (fuzz_keys.h, make_seeds). Checked besides "no crash": every line that parses is printed
// back byte for byte by format_ledger_line (the parser accepts only what the writer writes); an
// intact ledger has one parsed record per newline; a ledger intact with every signature checked is
// intact for the start-up check too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/core/error.h"
#include "runtime/ledger/ledger_check.h"
#include "runtime/ledger/ledger_record.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_ledger: %s\n", what.c_str());
  std::abort();
}

// Every complete line that parses must be what the writer prints for its record.
uint64_t check_lines(std::string_view text) {
  uint64_t newlines = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    ++newlines;
    const std::string_view line = text.substr(pos, nl - pos);
    fedtrain::LedgerRecord r;
    if (fedtrain::parse_ledger_line(line, r).empty() && fedtrain::format_ledger_line(r) != std::string(line) + "\n")
      finding("a line parses but is not what the writer prints: " + std::string(line));
    pos = nl + 1;
  }
  return newlines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  static fuzz::InputFile file("fuzz-ledger.jsonl");
  static const SigningManifest keys = fuzz::signing_manifest();
  const std::string& path = file.hold(data, size);
  LedgerCheck full, startup;
  try {
    full = check_ledger(file.fd(), path, keys, {"fuzz", /*every_signature=*/true});
    startup = check_ledger(file.fd(), path, keys, {"fuzz", /*every_signature=*/false});
  } catch (const Error& e) {
    fuzz::rejected("fuzz_ledger", e);
    return 0;
  }
  if (!full.intact())
    fuzz::rejected("fuzz_ledger", Error("line " + std::to_string(full.problems.front().line) + " " +
                                        full.problems.front().what));
  const uint64_t newlines = check_lines(std::string_view(reinterpret_cast<const char*>(data), size));
  if (full.intact() && (full.lines != newlines || full.entries.size() != full.lines))
    finding("an intact ledger of " + std::to_string(newlines) + " newlines has " + std::to_string(full.lines) +
            " lines and " + std::to_string(full.entries.size()) + " records");
  if (full.intact() && !startup.intact()) finding("a ledger intact for verify fails the start-up check");
  if (full.intact() && !full.entries.empty() && full.head != full.entries.back().hash)
    finding("an intact ledger's head is not its last record's hash");
  return 0;
}
