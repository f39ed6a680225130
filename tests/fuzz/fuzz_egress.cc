// Fuzz target: an egress log checked as `fedtrain egress verify` checks it (verify_egress_log,
// runtime/federation/egress_log.cc).
//
// Input: the log's bytes, held in a file; seeds are logs written by EgressLog (make_seeds).
// Checked besides "no crash": every line that parses is printed back byte for byte by
// format_egress_record (the parser accepts only what the writer writes), and an intact log has
// one record per newline.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/core/error.h"
#include "runtime/federation/egress_log.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtrain;
  static fuzz::InputFile file("fuzz-egress.jsonl");
  const std::string& path = file.hold(data, size);
  EgressLogCheck check;
  try {
    check = verify_egress_log(file.fd(), path);
  } catch (const Error& e) {
    fedtrain::fuzz::rejected("fuzz_egress", e);
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  uint64_t newlines = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    ++newlines;
    const std::string_view line = text.substr(pos, nl - pos);
    EgressRecord r;
    if (parse_egress_record(line, r).empty() && format_egress_record(r) != std::string(line) + "\n") {
      std::fprintf(stderr, "fuzz_egress: a line parses but is not what the writer prints: %.*s\n",
                   static_cast<int>(line.size()), line.data());
      std::abort();
    }
    pos = nl + 1;
  }
  if (check.intact() && check.lines != newlines) {
    std::fprintf(stderr, "fuzz_egress: an intact log of %llu newlines has %llu records\n",
                 static_cast<unsigned long long>(newlines), static_cast<unsigned long long>(check.lines));
    std::abort();
  }
  return 0;
}
