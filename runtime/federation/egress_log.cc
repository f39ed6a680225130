// The egress log of a site: its line format, the chained writer, and the check of a whole log.
#include "runtime/federation/egress_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/io/append_only.h"
#include "runtime/io/durable.h"
#include "runtime/io/hash_chain.h"
#include "runtime/io/line_cursor.h"
#include "runtime/io/line_reader.h"

namespace fedtrain {
namespace {

using namespace line_format;

// No record comes near this; a longer line is damage.
constexpr size_t kMaxLineBytes = 4096;

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

// Opens (or creates) the log for appending, refusing links and other writers,
// and reads the head of its chain. Returns the descriptor.
int open_for_append(const std::string& path, Sha256Digest& head) {
  off_t bytes = 0;
  const int fd = open_append_only(path, "egress log", "egress_log", &bytes);
  struct Closer {
    int fd;
    bool keep = false;
    ~Closer() {
      if (!keep) ::close(fd);
    }
  } guard{fd};
  const std::filesystem::path p(path);
  if (bytes == 0) {
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
  FT_CHECK(!r.phase.empty() && all_of(r.phase, is_phase_char) && !r.to.empty() && all_of(r.to, is_name_char),
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
  if (!c.token(r.to, is_name_char, 1, 64)) return expected("a site name");
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
  auto problem = [&out](uint64_t line, std::string what) {
    if (out.problems.size() < EgressLogCheck::kMaxProblems)
      out.problems.push_back({line, std::move(what)});
    else
      ++out.problems_left_out;
  };
  HashChainCheck chain(kEgressGenesis, "log", problem);
  std::set<uint64_t> rounds;
  uint64_t number = 0;
  auto complete_line = [&](std::string& line, bool too_long) {
    ++number;
    if (too_long) {
      problem(number, "is longer than any egress record (" + std::to_string(kMaxLineBytes) + " bytes or more)");
      chain.add(number, "", "");
    } else {
      line.push_back('\n');
      const Sha256Digest digest = sha256(line.data(), line.size());
      line.pop_back();
      EgressRecord r;
      const std::string why = parse_egress_record(line, r);
      if (!why.empty()) {
        problem(number, "is not an egress record: " + why);
        r.prev.clear();
      } else {
        out.bytes += r.bytes;
        rounds.insert(r.round);
      }
      chain.add(number, to_hex(digest), r.prev);
      out.head = digest;
    }
  };

  const bool torn = read_lines(fd, path, "egress log", kMaxLineBytes,
                               [&](std::string& line, bool too_long, uint64_t) { complete_line(line, too_long); });
  if (torn) {
    problem(number + 1, "is cut short: no newline at its end (a write torn by a crash, or the file was truncated)");
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
  append(round, attempt, phase, to, message.size(), digest(message));
}

Sha256Digest EgressLog::digest(std::span<const uint8_t> message) { return sha256(message.data(), message.size()); }

void EgressLog::append(uint64_t round, uint64_t attempt, const char* phase, const std::string& to, uint64_t bytes,
                       const Sha256Digest& digest) {
  EgressRecord r;
  r.round = round;
  r.attempt = attempt;
  r.phase = phase;
  r.to = to;
  r.bytes = bytes;
  r.sha256 = to_hex(digest);
  r.prev = to_hex(head_);
  const std::string line = format_egress_record(r);
  write_all(fd_, line, path_);
  head_ = sha256(line.data(), line.size());
  total_bytes_ += bytes;
}

void EgressLog::sync() {
  if (::fsync(fd_) != 0) throw Error("cannot fsync egress log '" + path_ + "': " + std::strerror(errno));
}

}  // namespace fedtrain
