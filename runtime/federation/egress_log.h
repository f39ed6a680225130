// The egress log of a site: one line per message that left the site, written before the message is sent, each line chained to the one before.
//
// Format: JSON Lines, every line ended by '\n', the keys always in this order:
//
//   {"round":3,"attempt":0,"phase":"reduce-scatter","to":"de","bytes":1048652,"sha256":"9f2c...","prev":"41d0..."}
//
//   round, attempt  the round attempt the message belongs to (the session set-up is round 0)
//   phase           session, status, reduce-scatter, all-gather, outcome or totals
//   to              the receiving site
//   bytes           the whole message as sent (header, nonce, ciphertext, tag)
//   sha256          SHA-256 of those bytes, so a site operator can match the log
//                   against a capture of the site's outgoing traffic
//   prev            SHA-256 of the previous line's bytes, its '\n' included
//                   (`sed -n Kp FILE | sha256sum` is the prev of line K+1);
//                   the first line's prev is the genesis value, 64 zeros
//
// Hashes are lowercase hex. The round table's egress column is the sum of the
// `bytes` of every site's log.
//
// The writer, step by step:
//   open    open(2) with O_RDWR|O_APPEND|O_CREAT|O_NOFOLLOW, mode 0640: a
//           symlink at the path is refused (its directories may be links).
//           An exclusive flock keeps a second writer out. An existing file
//           (a resumed job) is checked whole, as `fedtrain egress verify`
//           does, and its chain continued from its last line; a damaged file
//           is refused. A new file's directory is fsynced.
//   record  hashes the message and appends its line with one write(2),
//           *before* the caller hands the message to the transport: a message
//           that left the site is in the log even if the leader dies right
//           after the send (a line whose message never left is possible; a
//           message without a line is not).
//   sync    fsync, once per round after the round's last message (the round
//           totals, see secure_link.h): a round's lines then survive a crash
//           of the machine too; lines of an unfinished round may not.
//
// What the chain shows (verify_egress_log): a line removed, edited, moved or
// inserted anywhere but at the end, and a last line cut short (a torn
// write). What it cannot show by itself: whole lines cut from the end (keep
// the `head` that verify prints, or compare with the round table), or a
// rewrite of the whole file by someone who may write it (the chain has no key).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/crypto/sha256.h"

namespace fedtrain {

// One line of the log, as fields.
struct EgressRecord {
  uint64_t round = 0;
  uint64_t attempt = 0;
  std::string phase;
  std::string to;
  uint64_t bytes = 0;
  std::string sha256;  // hex of the message
  std::string prev;    // hex of the previous line
};

// The prev of the first line.
inline constexpr const char* kEgressGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

// The line of `r`, '\n' included.
std::string format_egress_record(const EgressRecord& r);
// Parses one line (without its '\n'); returns "" or what is wrong with it.
std::string parse_egress_record(std::string_view line, EgressRecord& out);

struct EgressProblem {
  uint64_t line = 0;  // 1-based
  std::string what;
};

// What verify_egress_log found.
struct EgressLogCheck {
  uint64_t lines = 0;         // records, damaged ones included
  uint64_t bytes = 0;         // sum of the `bytes` of the lines that parse
  uint64_t rounds = 0;        // distinct round numbers, 0 (session set-up) included
  uint64_t first_round = 0, last_round = 0;
  Sha256Digest head{};        // hash of the last complete line: the prev the next line must have
  std::vector<EgressProblem> problems;  // empty: intact
  uint64_t problems_left_out = 0;       // problems beyond the first kMaxProblems
  static constexpr size_t kMaxProblems = 20;
  bool intact() const { return problems.empty(); }
};

// Reads the log at `fd` from its start (pread: the file offset is left alone)
// and checks every line and the chain. `path` names it in errors. Throws Error
// when the file cannot be read.
EgressLogCheck verify_egress_log(int fd, const std::string& path);
// The same for a path (opened read-only). Throws Error when it cannot be opened or read.
EgressLogCheck verify_egress_log(const std::string& path);

class EgressLog {
 public:
  // Opens or creates the log at `path` (and its directory) as above. Throws
  // Error for a symlink, a file that is not a regular file, one that another
  // writer holds, or a damaged one (naming the first problem and the
  // `fedtrain egress verify` command).
  explicit EgressLog(const std::string& path);
  ~EgressLog();
  EgressLog(const EgressLog&) = delete;
  EgressLog& operator=(const EgressLog&) = delete;

  // Appends the line of `message`, about to be sent to site `to`. Call it
  // before the send. Throws Error when the line cannot be written (then do not send).
  // The same as append(..., message.size(), digest(message)).
  void record(uint64_t round, uint64_t attempt, const char* phase, const std::string& to,
              std::span<const uint8_t> message);
  // record() in two halves, so that the hashing (the costly half) can run on
  // any thread while the lines are still appended in send order, chained:
  // digest() is the `sha256` of a message (thread-safe, touches no log);
  // append() writes the line of a message of `bytes` with that digest (one
  // thread at a time, in the order the messages are handed to the transport).
  static Sha256Digest digest(std::span<const uint8_t> message);
  void append(uint64_t round, uint64_t attempt, const char* phase, const std::string& to, uint64_t bytes,
              const Sha256Digest& digest);
  // fsync: every line recorded so far is on disk. Throws Error when it fails.
  void sync();

  uint64_t total_bytes() const { return total_bytes_; }  // of the messages recorded by this writer
  const std::string& path() const { return path_; }
  std::string head() const { return to_hex(head_); }

 private:
  std::string path_;
  int fd_ = -1;
  Sha256Digest head_{};  // hash of the last line (zeros: the genesis value)
  uint64_t total_bytes_ = 0;
};

}  // namespace fedtrain
