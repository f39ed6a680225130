// The egress log of a site: its line format, the chained writer, and the check of a whole log.
#include "runtime/federation/egress_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <set>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/io/durable.h"

namespace fedtrain {
namespace {

// No record comes near this; a longer line is damage.
constexpr size_t kMaxLineBytes = 4096;

bool is_phase_char(char c) { return (c >= 'a' && c <= 'z') || c == '-'; }
bool is_site_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}
bool is_hex_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool all_of(std::string_view s, bool (*ok)(char)) {
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

// Reads a line left to right; every method consumes only on success.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  size_t byte() const { return pos_ + 1; }  // 1-based, for messages
  bool done() const { return pos_ == s_.size(); }
  bool literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // A decimal number as the writer prints it: digits, no leading zero, below 2^64.
  bool number(uint64_t& v) {
    size_t end = pos_;
    while (end < s_.size() && s_[end] >= '0' && s_[end] <= '9') ++end;
    const size_t digits = end - pos_;
    if (digits == 0 || digits > 20 || (digits > 1 && s_[pos_] == '0')) return false;
    uint64_t x = 0;
    for (size_t i = pos_; i < end; ++i) {
      const uint64_t d = static_cast<uint64_t>(s_[i] - '0');
      if (x > (UINT64_MAX - d) / 10) return false;
      x = x * 10 + d;
    }
    v = x;
    pos_ = end;
    return true;
  }
  // 1 to max_chars characters accepted by ok(), up to the next '"'.
  bool token(std::string& out, bool (*ok)(char), size_t min_chars, size_t max_chars) {
    const size_t end = s_.find('"', pos_);
    if (end == std::string_view::npos) return false;
    const std::string_view t = s_.substr(pos_, end - pos_);
    if (t.size() < min_chars || t.size() > max_chars || !all_of(t, ok)) return false;
    out.assign(t);
    pos_ = end;
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

std::string short_hash(const std::string& hex) { return hex.substr(0, 12) + "..."; }

// Writes all of `data` at the end of the file (O_APPEND).
void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write egress log '" + path + "': " + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
}

// The chain check: each line is judged once the next one is known (a line
// that chains to its successor is half of a swapped pair). `window` holds the
// last lines, oldest first, for lines that chain to an earlier one.
class ChainCheck {
 public:
  explicit ChainCheck(EgressLogCheck& out) : out_(out) {}

  void problem(uint64_t line, std::string what) {
    if (out_.problems.size() < EgressLogCheck::kMaxProblems)
      out_.problems.push_back({line, std::move(what)});
    else
      ++out_.problems_left_out;
  }
  // A complete line: its hash (hex, of its bytes and '\n'; empty if unknown)
  // and its prev (empty if it did not parse).
  void add(uint64_t line, std::string hash, std::string prev) {
    window_.push_back({line, std::move(hash), std::move(prev)});
    if (window_.size() >= 2) judge(window_.size() - 2);
    if (window_.size() > kWindow) window_.pop_front();
  }
  void finish() {
    if (!window_.empty()) judge(window_.size() - 1);
  }

 private:
  struct Seen {
    uint64_t line;
    std::string hash, prev;
  };
  static constexpr size_t kWindow = 16;

  void judge(size_t i) {
    const Seen& s = window_[i];
    if (s.prev.empty()) return;  // did not parse: reported as such
    const Seen* next = i + 1 < window_.size() ? &window_[i + 1] : nullptr;
    const std::string want = s.line == 1 ? std::string(kEgressGenesis) : window_[i - 1].hash;
    if (s.prev == want) return;
    const std::string k = std::to_string(s.line), before = std::to_string(s.line - 1);
    if (next != nullptr && s.prev == next->hash) {
      problem(s.line, "chains to line " + std::to_string(next->line) + ", which comes after it: lines " + k + " and " +
                          std::to_string(next->line) + " are out of order");
      return;
    }
    if (s.line > 1 && s.prev == kEgressGenesis) {
      problem(s.line, "starts a new chain (its prev is the genesis value) in the middle of the log: the lines before it "
                      "come from another log, or this line was moved here");
      return;
    }
    for (size_t j = i >= 1 ? i - 1 : 0; j-- > 0;) {
      if (window_[j].hash == s.prev) {
        const uint64_t from = window_[j].line + 1;
        const std::string skipped = from == s.line - 1 ? "line " + before : "lines " + std::to_string(from) + " to " + before;
        problem(s.line, "chains to line " + std::to_string(window_[j].line) + ", skipping " + skipped +
                            ": out of place (moved or inserted)");
        return;
      }
    }
    if (s.line == 1) {
      problem(1, "does not start the chain: its prev is " + short_hash(s.prev) +
                     ", not the genesis value (lines removed from the start of the log?)");
      return;
    }
    problem(s.line, "breaks the chain: its prev is " + short_hash(s.prev) + " but line " + before +
                        " hashes to " + short_hash(want) + ": line " + before + " was edited, or lines between " + before +
                        " and " + k + " were removed");
  }

  EgressLogCheck& out_;
  std::deque<Seen> window_;
};

// Opens (or creates) the log for appending, refusing links and other writers,
// and reads the head of its chain. Returns the descriptor.
int open_for_append(const std::string& path, Sha256Digest& head) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);  // a failure shows in open()
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int saved = errno;
    struct stat st {};
    if (saved == ELOOP && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      throw Error("egress log '" + path + "' is a symbolic link; fedtrain does not follow links for its egress log "
                  "(a link can send the records elsewhere): set [site.NAME] egress_log to the file itself");
    throw Error("cannot open egress log '" + path + "': " + std::strerror(saved) + "; set [site.NAME] egress_log");
  }
  struct Closer {
    int fd;
    bool keep = false;
    ~Closer() {
      if (!keep) ::close(fd);
    }
  } guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat egress log '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("egress log '" + path + "' is not a regular file; set [site.NAME] egress_log");
  // One writer per log, or the chain would interleave. File systems without
  // locks (ENOLCK, EOPNOTSUPP) go on unlocked: only a second writer is refused.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    throw Error("egress log '" + path + "' is being written by another process (two sites or jobs with the same "
                "[site.NAME] egress_log?)");
  if (st.st_size == 0) {
    head = Sha256Digest{};
    sync_directory(p.parent_path().string());  // the new name lasts
  } else {
    const EgressLogCheck check = verify_egress_log(fd, path);
    if (!check.intact()) {
      const EgressProblem& first = check.problems.front();
      throw Error("egress log '" + path + "' is damaged (line " + std::to_string(first.line) + " " + first.what +
                  "), so its chain cannot be continued. 'fedtrain egress verify " + path +
                  "' lists every problem; keep the file as evidence and set [site.NAME] egress_log to a new path");
    }
    head = check.head;
  }
  guard.keep = true;
  return fd;
}

}  // namespace

std::string format_egress_record(const EgressRecord& r) {
  FT_CHECK(!r.phase.empty() && all_of(r.phase, is_phase_char) && !r.to.empty() && all_of(r.to, is_site_char),
           "egress record with phase '" << r.phase << "' to '" << r.to << "'");
  FT_CHECK(r.sha256.size() == 64 && r.prev.size() == 64);
  std::string line = "{\"round\":" + std::to_string(r.round) + ",\"attempt\":" + std::to_string(r.attempt) +
                     ",\"phase\":\"" + r.phase + "\",\"to\":\"" + r.to + "\",\"bytes\":" + std::to_string(r.bytes) +
                     ",\"sha256\":\"" + r.sha256 + "\",\"prev\":\"" + r.prev + "\"}\n";
  return line;
}

std::string parse_egress_record(std::string_view line, EgressRecord& r) {
  Cursor c(line);
  auto expected = [&](const std::string& what) { return "expected " + what + " at byte " + std::to_string(c.byte()); };
  if (!c.literal("{\"round\":")) return expected("'{\"round\":'");
  if (!c.number(r.round)) return expected("the round (a decimal number)");
  if (!c.literal(",\"attempt\":")) return expected("',\"attempt\":'");
  if (!c.number(r.attempt)) return expected("the attempt (a decimal number)");
  if (!c.literal(",\"phase\":\"")) return expected("',\"phase\":\"'");
  if (!c.token(r.phase, is_phase_char, 1, 32)) return expected("a phase name (a-z, '-')");
  if (!c.literal("\",\"to\":\"")) return expected("'\",\"to\":\"'");
  if (!c.token(r.to, is_site_char, 1, 64)) return expected("a site name");
  if (!c.literal("\",\"bytes\":")) return expected("'\",\"bytes\":'");
  if (!c.number(r.bytes)) return expected("the message bytes (a decimal number)");
  if (!c.literal(",\"sha256\":\"")) return expected("',\"sha256\":\"'");
  if (!c.token(r.sha256, is_hex_char, 64, 64)) return expected("the message's SHA-256 (64 lowercase hex digits)");
  if (Cursor probe = c; probe.literal("\"}") && probe.done())
    return "has no \"prev\": a line of the unchained format of fedtrain before its egress log was chained";
  if (!c.literal("\",\"prev\":\"")) return expected("'\",\"prev\":\"'");
  if (!c.token(r.prev, is_hex_char, 64, 64)) return expected("the previous line's SHA-256 (64 lowercase hex digits)");
  if (!c.literal("\"}")) return expected("'\"}'");
  if (!c.done()) return "unexpected bytes after the record at byte " + std::to_string(c.byte());
  return "";
}

EgressLogCheck verify_egress_log(int fd, const std::string& path) {
  EgressLogCheck out;
  ChainCheck chain(out);
  std::set<uint64_t> rounds;
  std::string line;
  bool too_long = false;
  uint64_t number = 0;
  auto complete_line = [&]() {
    ++number;
    if (too_long) {
      chain.problem(number, "is longer than any egress record (" + std::to_string(kMaxLineBytes) + " bytes or more)");
      chain.add(number, "", "");
    } else {
      line.push_back('\n');
      const Sha256Digest digest = sha256(line.data(), line.size());
      line.pop_back();
      EgressRecord r;
      const std::string why = parse_egress_record(line, r);
      if (!why.empty()) {
        chain.problem(number, "is not an egress record: " + why);
        r.prev.clear();
      } else {
        out.bytes += r.bytes;
        rounds.insert(r.round);
      }
      chain.add(number, to_hex(digest), r.prev);
      out.head = digest;
    }
    line.clear();
    too_long = false;
  };

  std::vector<char> block(size_t{1} << 16);
  off_t offset = 0;
  for (;;) {
    const ssize_t got = ::pread(fd, block.data(), block.size(), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error("cannot read egress log '" + path + "': " + std::strerror(errno));
    if (got == 0) break;
    offset += got;
    const char* p = block.data();
    const char* end = p + got;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      const char* stop = nl != nullptr ? nl : end;
      if (!too_long) {
        line.append(p, stop);
        if (line.size() >= kMaxLineBytes) {
          too_long = true;
          line.clear();
        }
      }
      if (nl == nullptr) break;
      complete_line();
      p = nl + 1;
    }
  }
  if (!line.empty() || too_long) {
    chain.problem(number + 1, "is cut short: no newline at its end (a write torn by a crash, or the file was truncated)");
    ++number;
  }
  chain.finish();
  out.lines = number;
  out.rounds = rounds.size();
  if (!rounds.empty()) {
    out.first_round = *rounds.begin();
    out.last_round = *rounds.rbegin();
  }
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const EgressProblem& a, const EgressProblem& b) { return a.line < b.line; });
  return out;
}

EgressLogCheck verify_egress_log(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open egress log '" + path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } guard{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error("cannot stat egress log '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error("egress log '" + path + "' is not a regular file");
  return verify_egress_log(fd, path);
}

EgressLog::EgressLog(const std::string& path) : path_(path) { fd_ = open_for_append(path_, head_); }

EgressLog::~EgressLog() {
  if (fd_ >= 0) ::close(fd_);
}

void EgressLog::record(uint64_t round, uint64_t attempt, const char* phase, const std::string& to,
                       std::span<const uint8_t> message) {
  const auto t0 = std::chrono::steady_clock::now();
  EgressRecord r;
  r.round = round;
  r.attempt = attempt;
  r.phase = phase;
  r.to = to;
  r.bytes = message.size();
  r.sha256 = to_hex(sha256(message.data(), message.size()));
  r.prev = to_hex(head_);
  hash_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string line = format_egress_record(r);
  write_all(fd_, line, path_);
  head_ = sha256(line.data(), line.size());
  total_bytes_ += message.size();
}

void EgressLog::sync() {
  if (::fsync(fd_) != 0) throw Error("cannot fsync egress log '" + path_ + "': " + std::strerror(errno));
}

}  // namespace fedtrain
