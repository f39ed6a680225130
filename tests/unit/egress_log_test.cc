// The egress log: lines in call order, chained from the genesis value, links and second writers refused,
// and verify_egress_log catching a removed, edited, swapped or cut-short line.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/federation/egress_log.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

std::vector<uint8_t> message(size_t bytes, uint8_t seed) {
  std::vector<uint8_t> m(bytes);
  for (size_t i = 0; i < bytes; ++i) m[i] = static_cast<uint8_t>(seed + 31 * i);
  return m;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_all(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Lines with their '\n'.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return lines;
}
std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l;
  return s;
}
std::string hash_of(const std::string& s) { return to_hex(sha256(s.data(), s.size())); }

// Six records over rounds 0 to 2 (bytes 32, 100, ..., 500).
class EgressLogFile : public ::testing::Test {
 protected:
  EgressLogFile() : path_(dir_.file("site/egress-es.jsonl")) {
    EgressLog log(path_);
    log.record(0, 0, "session", "de", message(32, 1));
    const char* phases[] = {"status", "reduce-scatter", "all-gather", "outcome", "totals"};
    for (size_t i = 0; i < 5; ++i) log.record(1 + i / 3, i % 2, phases[i], i % 2 ? "fr" : "de", message(100 * (i + 1), 7));
  }
  std::vector<std::string> lines() const { return lines_of(read_all(path_)); }
  EgressLogCheck damaged(const std::vector<std::string>& lines) const {
    write_all(path_, joined(lines));
    return verify_egress_log(path_);
  }

  testing::TempDir dir_;
  std::string path_;
};

TEST_F(EgressLogFile, RecordsAreLinesInCallOrderEachChainedToTheOneBefore) {
  const std::vector<std::string> l = lines();
  ASSERT_EQ(l.size(), 6u);
  std::string prev = kEgressGenesis;
  for (size_t i = 0; i < l.size(); ++i) {
    ASSERT_EQ(l[i].back(), '\n');
    EgressRecord r;
    ASSERT_EQ(parse_egress_record(std::string_view(l[i]).substr(0, l[i].size() - 1), r), "") << l[i];
    EXPECT_EQ(r.prev, prev) << "line " << i + 1;
    EXPECT_EQ(format_egress_record(r), l[i]);  // one canonical form
    prev = hash_of(l[i]);
  }
  EXPECT_EQ(l[0],
            "{\"round\":0,\"attempt\":0,\"phase\":\"session\",\"to\":\"de\",\"bytes\":32,\"sha256\":\"" +
                to_hex(sha256(message(32, 1).data(), 32)) + "\",\"prev\":\"" + kEgressGenesis + "\"}\n");
  EgressRecord third;
  ASSERT_EQ(parse_egress_record(std::string_view(l[2]).substr(0, l[2].size() - 1), third), "");
  EXPECT_EQ(third.round, 1u);
  EXPECT_EQ(third.attempt, 1u);
  EXPECT_EQ(third.phase, "reduce-scatter");
  EXPECT_EQ(third.to, "fr");
  EXPECT_EQ(third.bytes, 200u);
  EXPECT_EQ(third.sha256, to_hex(sha256(message(200, 7).data(), 200)));

  const EgressLogCheck c = verify_egress_log(path_);
  EXPECT_TRUE(c.intact()) << c.problems.front().what;
  EXPECT_EQ(c.lines, 6u);
  EXPECT_EQ(c.bytes, 32u + 100 + 200 + 300 + 400 + 500);
  EXPECT_EQ(c.rounds, 3u);
  EXPECT_EQ(c.first_round, 0u);
  EXPECT_EQ(c.last_round, 2u);
  EXPECT_EQ(to_hex(c.head), hash_of(l.back()));
}

TEST_F(EgressLogFile, AReopenedLogContinuesTheChainFromItsLastLine) {
  const std::string last = lines().back();
  {
    EgressLog log(path_);
    EXPECT_EQ(log.head(), hash_of(last));
    log.record(3, 0, "status", "de", message(10, 3));
    log.sync();
  }
  const std::vector<std::string> l = lines();
  ASSERT_EQ(l.size(), 7u);
  EXPECT_NE(l[6].find("\"prev\":\"" + hash_of(last) + "\""), std::string::npos) << l[6];
  EXPECT_TRUE(verify_egress_log(path_).intact());
}

TEST(EgressLog, DigestsHashedOnOtherThreadsAndAppendedInOrderWriteTheSameLogAsRecord) {
  testing::TempDir dir;
  const std::string whole = dir.file("record.jsonl"), halves = dir.file("halves.jsonl");
  std::vector<std::vector<uint8_t>> messages;
  for (uint8_t i = 0; i < 6; ++i) messages.push_back(message(1000 + 37 * i, i));
  {
    EgressLog log(whole);
    for (const auto& m : messages) log.record(4, 1, "reduce-scatter", "de", m);
  }
  {
    // Hashed in reverse order on threads of their own, appended in send order.
    std::vector<Sha256Digest> digests(messages.size());
    std::vector<std::thread> threads;
    for (size_t i = messages.size(); i-- > 0;)
      threads.emplace_back([&, i] { digests[i] = EgressLog::digest(messages[i]); });
    for (auto& t : threads) t.join();
    EgressLog log(halves);
    for (size_t i = 0; i < messages.size(); ++i) log.append(4, 1, "reduce-scatter", "de", messages[i].size(), digests[i]);
  }
  EXPECT_EQ(read_all(halves), read_all(whole));
  EXPECT_TRUE(verify_egress_log(halves).intact());
}

TEST_F(EgressLogFile, ANewLogIsNotReadableByOthers) {
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0137, 0u) << std::oct << (st.st_mode & 0777);  // at most rw-r-----
}

TEST_F(EgressLogFile, ASecondWriterOfTheSameLogIsRefused) {
  EgressLog first(path_);
  try {
    EgressLog second(path_);
    FAIL() << "a second writer was let in";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + path_ + "' is being written by another process"), std::string::npos)
        << e.what();
  }
}

TEST(EgressLog, ASymbolicLinkIsRefusedAndItsTargetLeftAlone) {
  testing::TempDir dir;
  const std::string target = dir.file("target"), link = dir.file("egress.jsonl");
  write_all(target, "precious\n");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  try {
    EgressLog log(link);
    FAIL() << "the link was followed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("egress log '" + link + "' is a symbolic link"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_all(target), "precious\n");
  // A dangling link: O_CREAT alone would create its target.
  const std::string dangling = dir.file("dangling.jsonl"), nowhere = dir.file("nowhere");
  ASSERT_EQ(::symlink(nowhere.c_str(), dangling.c_str()), 0);
  EXPECT_THROW(EgressLog{dangling}, Error);
  EXPECT_FALSE(std::filesystem::exists(nowhere));
}

TEST_F(EgressLogFile, VerifyNamesARemovedLine) {
  std::vector<std::string> l = lines();
  l.erase(l.begin() + 2);  // line 3
  const EgressLogCheck c = damaged(l);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].line, 3u);
  EXPECT_NE(c.problems[0].what.find("breaks the chain"), std::string::npos) << c.problems[0].what;
  EXPECT_NE(c.problems[0].what.find("lines between 2 and 3 were removed"), std::string::npos) << c.problems[0].what;
}

TEST_F(EgressLogFile, VerifyNamesTheFirstLineRemoved) {
  std::vector<std::string> l = lines();
  l.erase(l.begin());
  const EgressLogCheck c = damaged(l);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].line, 1u);
  EXPECT_NE(c.problems[0].what.find("not the genesis value"), std::string::npos) << c.problems[0].what;
}

TEST_F(EgressLogFile, VerifyNamesAnEditedByte) {
  const std::vector<std::string> original = lines();
  std::vector<std::string> l = original;
  const size_t at = l[3].find("\"bytes\":300");
  ASSERT_NE(at, std::string::npos);
  l[3][at + 8] = '9';  // still a record, now claiming 900 bytes
  const EgressLogCheck c = damaged(l);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].line, 5u);  // the line after the edited one no longer chains to it
  EXPECT_NE(c.problems[0].what.find("line 4 was edited"), std::string::npos) << c.problems[0].what;

  l = original;
  l[1][1] = 'X';  // no longer a record
  const EgressLogCheck d = damaged(l);
  ASSERT_EQ(d.problems.size(), 2u);
  EXPECT_EQ(d.problems[0].line, 2u);
  EXPECT_NE(d.problems[0].what.find("is not an egress record: expected '{\"round\":' at byte 1"), std::string::npos)
      << d.problems[0].what;
  EXPECT_EQ(d.problems[1].line, 3u);
}

TEST_F(EgressLogFile, VerifyNamesASwappedPairOfLines) {
  std::vector<std::string> l = lines();
  std::swap(l[2], l[3]);
  const EgressLogCheck c = damaged(l);
  ASSERT_FALSE(c.intact());
  EXPECT_EQ(c.problems[0].line, 3u);
  EXPECT_NE(c.problems[0].what.find("chains to line 4, which comes after it: lines 3 and 4 are out of order"),
            std::string::npos)
      << c.problems[0].what;
}

TEST_F(EgressLogFile, VerifyNamesACutShortLastLine) {
  const std::string text = read_all(path_);
  const size_t line5 = text.find("\"phase\":\"outcome\"");
  ASSERT_NE(line5, std::string::npos);
  for (size_t cut : {line5, text.size() - 1}) {  // mid-line, and just the final newline
    write_all(path_, text.substr(0, cut));
    const EgressLogCheck c = verify_egress_log(path_);
    ASSERT_EQ(c.problems.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(c.problems[0].line, cut == line5 ? 5u : 6u);
    EXPECT_NE(c.problems[0].what.find("is cut short"), std::string::npos) << c.problems[0].what;
  }
}

TEST_F(EgressLogFile, VerifyNamesALineInsertedTwice) {
  std::vector<std::string> l = lines();
  l.insert(l.begin() + 3, l[2]);  // line 3 again, as line 4
  const EgressLogCheck c = damaged(l);
  ASSERT_FALSE(c.intact());
  EXPECT_EQ(c.problems[0].line, 4u);
  EXPECT_NE(c.problems[0].what.find("chains to line 2, skipping line 3"), std::string::npos) << c.problems[0].what;
}

TEST_F(EgressLogFile, ADamagedLogIsNotContinued) {
  std::vector<std::string> l = lines();
  l.erase(l.begin() + 4);
  write_all(path_, joined(l));
  const std::string before = read_all(path_);
  try {
    EgressLog log(path_);
    FAIL() << "a damaged log was continued";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("egress log '" + path_ + "' is damaged (line 5 breaks the chain"), std::string::npos) << what;
    EXPECT_NE(what.find("'fedtrain egress verify " + path_ + "'"), std::string::npos) << what;
  }
  EXPECT_EQ(read_all(path_), before);  // nothing appended
}

TEST(EgressLogRecord, ParsingRefusesWhatTheWriterNeverWrites) {
  EgressRecord r;
  const std::string good = "{\"round\":1,\"attempt\":0,\"phase\":\"status\",\"to\":\"de\",\"bytes\":5,\"sha256\":\"" +
                           std::string(64, 'a') + "\",\"prev\":\"" + std::string(64, '0') + "\"}";
  EXPECT_EQ(parse_egress_record(good, r), "");
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return parse_egress_record(s, r);
  };
  EXPECT_NE(replaced("\"round\":1", "\"round\":01"), "");                  // not canonical
  EXPECT_NE(replaced("\"round\":1", "\"round\":-1"), "");
  EXPECT_NE(replaced("\"bytes\":5", "\"bytes\":99999999999999999999"), "");  // above 2^64
  EXPECT_NE(replaced("\"to\":\"de\"", "\"to\":\"d\\\"e\""), "");
  EXPECT_NE(replaced(std::string(64, 'a'), std::string(64, 'A')), "");     // uppercase hex
  EXPECT_NE(replaced(",\"attempt\"", ", \"attempt\""), "");
  EXPECT_NE(parse_egress_record(good + " ", r).find("unexpected bytes after the record"), std::string::npos);
  // A line of the log before it was chained.
  EXPECT_NE(replaced(",\"prev\":\"" + std::string(64, '0') + "\"", "").find("has no \"prev\""), std::string::npos);
}

}  // namespace
}  // namespace fedtrain
