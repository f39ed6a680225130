// The check of a whole ledger.
#include "runtime/ledger/ledger_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>

#include "runtime/core/error.h"
#include "runtime/io/hash_chain.h"
#include "runtime/io/line_reader.h"
#include "runtime/ledger/ledger_record.h"

namespace fedtrain {
namespace {

// Far above any record (64 sites make about 10 KB); a longer line is damage.
constexpr size_t kMaxLineBytes = size_t{1} << 20;

class Checker {
 public:
  Checker(LedgerCheck& out, const SigningManifest& keys, const LedgerCheckOptions& options)
      : out_(out), keys_(keys), options_(options) {}

  void problem(uint64_t line, std::string what) {
    if (out_.problems.size() < LedgerCheck::kMaxProblems)
      out_.problems.push_back({line, std::move(what)});
    else
      ++out_.problems_left_out;
  }

  // One complete line (without '\n'); `end` is the file offset after its '\n'.
  void line(uint64_t number, const std::string& text, uint64_t end, bool too_long) {
    if (too_long) {
      problem(number, "is longer than any ledger record (" + std::to_string(kMaxLineBytes) + " bytes or more)");
      chain().add(number, "", "");
      return;
    }
    const std::string bytes = text + "\n";
    const Sha256Digest digest = sha256(bytes.data(), bytes.size());
    out_.head = digest;
    LedgerRecord r;
    const std::string why = parse_ledger_line(text, r);
    if (!why.empty()) {
      problem(number, "is not a ledger record: " + why);
      chain().add(number, to_hex(digest), "");
      return;
    }
    if (out_.job.empty()) out_.job = options_.job.empty() ? r.job : options_.job;
    chain().add(number, to_hex(digest), to_hex(r.prev));
    if (r.job != out_.job) problem(number, "is a record of job '" + r.job + "', not of job '" + out_.job + "'");
    if (last_round_ && r.round <= *last_round_)
      problem(number, "records round " + std::to_string(r.round) + " after round " + std::to_string(*last_round_) +
                          ": rounds only increase (a record moved, or copied from elsewhere)");
    last_round_ = r.round;
    check_sites(number, r);
    out_.entries.push_back({number, r.round, r.attempt, r.model, end, digest});
    last_record_ = std::move(r);
    last_line_ = number;
    if (options_.every_signature) check_signatures(number, *last_record_);
  }

  void finish() {
    if (chain_) chain_->finish();
    if (!options_.every_signature && last_record_) check_signatures(last_line_, *last_record_);
  }

 private:
  HashChainCheck& chain() {
    if (!chain_) {
      // The genesis value depends on the job, known from the first record (or the caller).
      const std::string job = !options_.job.empty() ? options_.job : out_.job;
      chain_.emplace(to_hex(ledger_genesis(job, keys_.hash)), "ledger",
                     [this](uint64_t line, std::string what) { problem(line, std::move(what)); },
                     "the ledger of another job id, or one signed under other signing keys (a signing key rotation "
                     "starts a new ledger), or records removed from its start");
    }
    return *chain_;
  }

  // Participants and signers: manifest sites, each once, in manifest order.
  void check_sites(uint64_t number, const LedgerRecord& r) {
    if (r.participants.empty()) problem(number, "has no participants");
    if (r.participants.size() > keys_.sites.size() || r.signatures.size() > keys_.sites.size()) {
      problem(number, "lists more participants or signatures than the manifest has sites (" +
                          std::to_string(keys_.sites.size()) + ")");
      return;
    }
    int prev = -1;
    for (const auto& p : r.participants) {
      const int i = keys_.index(p.site);
      if (i < 0) problem(number, "lists participant '" + p.site + "', a site the manifest does not list");
      else if (i <= prev) problem(number, "lists participant '" + p.site + "' twice or out of manifest order");
      if (p.samples == 0) problem(number, "gives participant '" + p.site + "' 0 samples");
      prev = std::max(prev, i);
    }
    prev = -1;
    std::vector<bool> signed_by(keys_.sites.size(), false);
    for (const auto& s : r.signatures) {
      const int i = keys_.index(s.site);
      if (i < 0) problem(number, "holds a signature by '" + s.site + "', a site the manifest does not list");
      else if (i <= prev) problem(number, "holds the signature of '" + s.site + "' twice or out of manifest order");
      if (i >= 0) signed_by[i] = true;
      prev = std::max(prev, i);
    }
    for (const auto& p : r.participants) {
      const int i = keys_.index(p.site);
      if (i >= 0 && !signed_by[i]) problem(number, "lacks the signature of participant '" + p.site + "'");
    }
  }

  void check_signatures(uint64_t number, const LedgerRecord& r) {
    if (r.signatures.size() > keys_.sites.size()) return;  // reported by check_sites
    const std::string bytes = ledger_signed_bytes(r);
    const std::span<const uint8_t> message(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    for (const auto& s : r.signatures) {
      const int i = keys_.index(s.site);
      if (i < 0) continue;  // reported by check_sites
      if (verify_signature(keys_.keys[i], message, s.ed25519))
        ++out_.signatures;
      else
        problem(number, "holds a signature of site '" + s.site + "' that does not verify against that site's signing "
                        "key in the manifest: the record was altered after signing, or signed with another key");
    }
  }

  LedgerCheck& out_;
  const SigningManifest& keys_;
  const LedgerCheckOptions& options_;
  std::optional<HashChainCheck> chain_;
  std::optional<uint64_t> last_round_;
  std::optional<LedgerRecord> last_record_;
  uint64_t last_line_ = 0;
};

}  // namespace

LedgerCheck check_ledger(int fd, const std::string& path, const SigningManifest& keys, const LedgerCheckOptions& options) {
  LedgerCheck out;
  out.job = options.job;
  out.head = ledger_genesis(options.job, keys.hash);  // replaced by the last line's hash, if any
  Checker check(out, keys, options);
  uint64_t number = 0;
  const bool torn = read_lines(fd, path, "ledger", kMaxLineBytes, [&](std::string& line, bool too_long, uint64_t end) {
    check.line(++number, line, end, too_long);
  });
  if (torn) {
    check.problem(number + 1, "is cut short: no newline at its end (a write torn by a crash, or the file was truncated)");
    ++number;
  }
  check.finish();
  out.lines = number;
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const LedgerProblem& a, const LedgerProblem& b) { return a.line < b.line; });
  return out;
}

LedgerCheck check_ledger(const std::string& path, const SigningManifest& keys, const LedgerCheckOptions& options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open ledger '" + path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat ledger '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("ledger '" + path + "' is not a regular file");
  return check_ledger(fd, path, keys, options);
}

}  // namespace fedtrain
