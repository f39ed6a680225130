// The ledger of rounds: Ed25519 keys and signatures, the record's exact bytes, the ledger file (append,
// reopen, roll back) and check_ledger against every fault it must find, and RoundLedger's exchange of
// signatures between two leaders in one process.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/crypto/ed25519.h"
#include "runtime/crypto/key_file.h"
#include "runtime/crypto/x25519.h"
#include "runtime/federation/round_ledger.h"
#include "runtime/ledger/ledger_check.h"
#include "runtime/ledger/ledger_file.h"
#include "runtime/ledger/ledger_record.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_all(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l + "\n");
  return lines;
}
std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l;
  return s;
}

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// All problems of a check, one per line, "LINE: what".
std::string problems(const LedgerCheck& c) {
  std::string s;
  for (const auto& p : c.problems) s += std::to_string(p.line) + ": " + p.what + "\n";
  return s;
}

TEST(Ed25519, SignsAndVerifiesAndRejectsAnythingElse) {
  const SigningKey a = SigningKey::generate(), b = SigningKey::generate();
  const std::string msg = "round 3";
  const Signature sig = a.sign(bytes_of(msg));
  EXPECT_TRUE(verify_signature(a.public_key(), bytes_of(msg), sig));
  EXPECT_FALSE(verify_signature(b.public_key(), bytes_of(msg), sig));
  EXPECT_FALSE(verify_signature(a.public_key(), bytes_of("round 4"), sig));
  Signature flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(verify_signature(a.public_key(), bytes_of(msg), flipped));
  SigningPublicKey junk{};
  junk.fill(0xff);  // not a point on the curve
  EXPECT_FALSE(verify_signature(junk, bytes_of(msg), sig));
  EXPECT_EQ(a.sign(bytes_of(msg)), sig);  // Ed25519 is deterministic
}

TEST(Ed25519, KeyFilesAreCheckedLikeTheX25519Ones) {
  testing::TempDir dir;
  const SigningKey k = SigningKey::generate();
  k.save(dir.file("es.sign.key"));
  struct stat st;
  ASSERT_EQ(stat(dir.file("es.sign.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(SigningKey::load(dir.file("es.sign.key"), "es").public_key(), k.public_key());
  EXPECT_THROW(k.save(dir.file("es.sign.key")), Error);
  chmod(dir.file("es.sign.key").c_str(), 0644);
  std::string e = config_error([&] { SigningKey::load(dir.file("es.sign.key"), "es"); });
  EXPECT_NE(e.find("site 'es': signing secret key file '" + dir.file("es.sign.key") + "' has mode 644"), std::string::npos) << e;
  SecretKey::generate().save(dir.file("es.key"));
  e = config_error([&] { SigningKey::load(dir.file("es.key"), "es"); });
  EXPECT_NE(e.find("does not hold an Ed25519 private key"), std::string::npos) << e;
  e = config_error([&] { SecretKey::load(dir.file("es.key"), "es"); });
  EXPECT_EQ(e, "");  // and the X25519 key still loads as one
}

TEST(Base64, OnlyTheCanonicalLengthAndPadding) {
  uint8_t out[64];
  const std::string b64 = to_base64(reinterpret_cast<const uint8_t*>("0123456789abcdef0123456789abcdef"), 32);
  EXPECT_TRUE(raw_from_base64(b64, out, 32));
  EXPECT_TRUE(raw_from_base64(" " + b64 + "\n", out, 32));
  EXPECT_FALSE(raw_from_base64(b64.substr(0, 43), out, 32));
  EXPECT_FALSE(raw_from_base64(b64.substr(0, 42) + "==", out, 32));
  EXPECT_FALSE(raw_from_base64(b64, out, 64));
  EXPECT_FALSE(raw_from_base64(std::string(44, '*'), out, 32));
  EXPECT_THROW(signing_key_from_base64(b64.substr(1), "[site.es] signing_key"), ConfigError);
}

LedgerRecord sample_record() {
  LedgerRecord r;
  r.job = "quickstart";
  r.round = 3;
  r.attempt = 1;
  r.participants = {{"es", 20000}, {"de", 19999}};
  r.model.fill(0xab);
  r.prev.fill(0x01);
  return r;
}

TEST(LedgerRecord, BodyAndSignedBytesAreExactlyAsDocumented) {
  LedgerRecord r = sample_record();
  std::string model_hex, prev_hex;
  for (int i = 0; i < 32; ++i) model_hex += "ab", prev_hex += "01";
  EXPECT_EQ(ledger_record_body(r), "{\"v\":1,\"job\":\"quickstart\",\"round\":3,\"attempt\":1,\"participants\":[{\"site\":"
                                   "\"es\",\"samples\":20000},{\"site\":\"de\",\"samples\":19999}],\"model_sha256\":\"" +
                                       model_hex + "\",\"prev_sha256\":\"" + prev_hex + "\"}");
  EXPECT_EQ(ledger_signed_bytes(r), "fedtrain ledger record v1\n" + ledger_record_body(r));
  // The line is the body with the signatures before its closing brace.
  const SigningKey k = SigningKey::generate();
  r.signatures = {{"es", k.sign(bytes_of(ledger_signed_bytes(r)))}};
  const std::string line = format_ledger_line(r);
  const std::string b = ledger_record_body(r);
  EXPECT_EQ(line.substr(0, b.size() - 1), b.substr(0, b.size() - 1));
  EXPECT_EQ(line.substr(b.size() - 1), ",\"signatures\":[{\"site\":\"es\",\"ed25519\":\"" +
                                           to_base64(r.signatures[0].ed25519.data(), 64) + "\"}]}\n");
}

TEST(LedgerRecord, ParsesItsOwnLinesAndNothingElse) {
  LedgerRecord r = sample_record();
  const SigningKey k = SigningKey::generate();
  r.signatures = {{"es", k.sign(bytes_of(ledger_signed_bytes(r)))}, {"de", k.sign(bytes_of("x"))}};
  const std::string line = format_ledger_line(r);
  const std::string text = line.substr(0, line.size() - 1);
  LedgerRecord back;
  ASSERT_EQ(parse_ledger_line(text, back), "");
  EXPECT_EQ(format_ledger_line(back), line);
  EXPECT_EQ(ledger_signed_bytes(back), ledger_signed_bytes(r));
  auto rejects = [&](std::string variant, const std::string& why) {
    LedgerRecord x;
    const std::string e = parse_ledger_line(variant, x);
    EXPECT_NE(e, "") << variant;
    EXPECT_NE(e.find(why), std::string::npos) << e;
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = text;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  rejects(replaced("\"round\":3", "\"round\": 3"), "the round");
  rejects(replaced("\"round\":3,\"attempt\":1", "\"attempt\":1,\"round\":3"), "'\",\"round\":'");
  rejects(replaced("\"round\":3", "\"round\":03"), "the round");
  rejects(replaced("abab", "ABAB"), "SHA-256");
  rejects(replaced("{\"v\":1", "{\"v\":2"), "format version 1");
  rejects(text + " ", "unexpected bytes");
  rejects(replaced("\"job\":\"quickstart\"", "\"job\":\"quick start\""), "a job name");
  // The last base64 character of a 64-byte signature carries 4 unused bits: only zeros are canonical.
  const std::string sig = to_base64(r.signatures[0].ed25519.data(), 64);
  std::string other = sig;
  other[85] = other[85] == 'A' ? 'B' : (other[85] == 'Q' ? 'R' : (other[85] == 'g' ? 'h' : 'x'));
  rejects(replaced(sig, other), "canonical base64");
}

TEST(LedgerRecord, GenesisIsBoundToTheJobAndTheSigningKeys) {
  Sha256Digest keys{};
  keys.fill(7);
  const std::string text = "fedtrain ledger genesis v1\njob j\nsigning_keys " + to_hex(keys) + "\n";
  EXPECT_EQ(ledger_genesis("j", keys), sha256(text.data(), text.size()));
  EXPECT_NE(ledger_genesis("k", keys), ledger_genesis("j", keys));
  keys[0] = 8;
  EXPECT_NE(ledger_genesis("j", keys), sha256(text.data(), text.size()));
}

// Three sites with signing keys, a ledger of rounds 1-4 signed by all of them.
class LedgerFileTest : public ::testing::Test {
 protected:
  LedgerFileTest() : path_(dir_.file("ckpt/es/ledger.jsonl")) {
    for (const char* s : {"es", "de", "fr"}) {
      keys_.emplace_back(SigningKey::generate());
      manifest_.sites.push_back(s);
      manifest_.keys.push_back(keys_.back().public_key());
    }
    manifest_.hash = signing_manifest_hash(manifest_.sites, manifest_.keys);
    LedgerFile f(path_, "job", manifest_);
    for (uint64_t round = 1; round <= 4; ++round) f.append(record(round, f.head()));
  }
  LedgerRecord record(uint64_t round, const Sha256Digest& prev, const std::vector<size_t>& signers = {0, 1, 2}) {
    LedgerRecord r;
    r.job = "job";
    r.round = round;
    r.participants = {{"es", 100}, {"de", 200 + round}, {"fr", 300}};
    r.model.fill(static_cast<uint8_t>(round));
    r.prev = prev;
    for (size_t i : signers) r.signatures.push_back({manifest_.sites[i], keys_[i].sign(bytes_of(ledger_signed_bytes(r)))});
    return r;
  }
  LedgerCheck check(const std::string& text) {
    write_all(dir_.file("copy.jsonl"), text);
    return check_ledger(dir_.file("copy.jsonl"), manifest_, {"job", true});
  }
  std::vector<std::string> lines() { return lines_of(read_all(path_)); }

  testing::TempDir dir_;
  std::string path_;
  std::vector<SigningKey> keys_;
  SigningManifest manifest_;
};

TEST_F(LedgerFileTest, AnIntactLedgerChecksWithEverySignature) {
  const LedgerCheck c = check_ledger(path_, manifest_, {"job", true});
  EXPECT_TRUE(c.intact()) << problems(c);
  EXPECT_EQ(c.lines, 4u);
  EXPECT_EQ(c.signatures, 12u);
  ASSERT_EQ(c.entries.size(), 4u);
  EXPECT_EQ(c.entries.back().round, 4u);
  const std::string text = read_all(path_);
  EXPECT_EQ(c.head, sha256(text.data() + text.size() - lines().back().size(), lines().back().size()));
  struct stat st;
  ASSERT_EQ(lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(LedgerFileTest, FindsAChangedByteARemovedAndAReorderedRecord) {
  auto l = lines();
  std::string changed = l[1];
  changed.replace(changed.find("\"samples\":202"), 13, "\"samples\":203");
  LedgerCheck c = check(joined({l[0], changed, l[2], l[3]}));
  EXPECT_NE(problems(c).find("2: holds a signature of site 'es' that does not verify"), std::string::npos) << problems(c);
  EXPECT_NE(problems(c).find("3: breaks the chain"), std::string::npos) << problems(c);
  c = check(joined({l[0], l[2], l[3]}));
  EXPECT_NE(problems(c).find("2: breaks the chain: its prev is"), std::string::npos) << problems(c);
  c = check(joined({l[0], l[2], l[1], l[3]}));
  EXPECT_NE(problems(c).find("records round 2 after round 3"), std::string::npos) << problems(c);
  EXPECT_NE(problems(c).find("out of order"), std::string::npos) << problems(c);
  c = check(joined({l[1], l[2], l[3]}));
  EXPECT_NE(problems(c).find("1: does not start the chain"), std::string::npos) << problems(c);
  c = check(joined({l[0], l[1], l[2], l[3].substr(0, 40)}));
  EXPECT_NE(problems(c).find("4: is cut short"), std::string::npos) << problems(c);
}

TEST_F(LedgerFileTest, FindsSignaturesAndSitesOutsideTheManifest) {
  auto l = lines();
  // A fourth record whose es signature comes from a key the manifest does not hold.
  LedgerCheck intact = check(joined(l));
  LedgerRecord r = record(5, intact.head);
  r.signatures[0].ed25519 = SigningKey::generate().sign(bytes_of(ledger_signed_bytes(r)));
  LedgerCheck c = check(joined(l) + format_ledger_line(r));
  EXPECT_NE(problems(c).find("5: holds a signature of site 'es' that does not verify against that site's signing key"),
            std::string::npos) << problems(c);
  // A participant without its signature, and a signer and a participant the manifest does not list.
  r = record(5, intact.head, {0, 1});
  c = check(joined(l) + format_ledger_line(r));
  EXPECT_NE(problems(c).find("5: lacks the signature of participant 'fr'"), std::string::npos) << problems(c);
  r = record(5, intact.head);
  r.participants[2].site = "zz";
  r.signatures[2] = {"zz", SigningKey::generate().sign(bytes_of(ledger_signed_bytes(r)))};
  c = check(joined(l) + format_ledger_line(r));
  EXPECT_NE(problems(c).find("lists participant 'zz', a site the manifest does not list"), std::string::npos) << problems(c);
  EXPECT_NE(problems(c).find("holds a signature by 'zz', a site the manifest does not list"), std::string::npos)
      << problems(c);
  // More entries than the manifest has sites: refused before any per-entry work (a hostile line).
  r = record(5, intact.head);
  r.participants.push_back({"zz", 1});
  c = check(joined(l) + format_ledger_line(r));
  EXPECT_NE(problems(c).find("5: lists more participants or signatures than the manifest has sites (3)"),
            std::string::npos) << problems(c);
  // Another job's ledger (another genesis, another job field).
  c = check_ledger(path_, manifest_, {"other", true});
  EXPECT_NE(problems(c).find("1: does not start the chain"), std::string::npos) << problems(c);
  EXPECT_NE(problems(c).find("is a record of job 'job', not of job 'other'"), std::string::npos) << problems(c);
}

TEST_F(LedgerFileTest, ReopenContinuesTheChainAndRollBackMovesTheLaterRounds) {
  const std::string before = read_all(path_);
  {
    LedgerFile f(path_, "job", manifest_);
    EXPECT_EQ(f.records(), 4u);
    EXPECT_EQ(f.last_round(), 4u);
    EXPECT_EQ(f.roll_back_to(4), 0u);
    EXPECT_EQ(f.roll_back_to(2), 2u);
    EXPECT_EQ(f.last_round(), 2u);
    f.append(record(3, f.head()));
  }
  const auto l = lines_of(before), now = lines();
  ASSERT_EQ(now.size(), 3u);
  EXPECT_EQ(now[0], l[0]);
  EXPECT_EQ(now[1], l[1]);
  EXPECT_EQ(read_all(path_ + ".discarded"), l[2] + l[3]);
  EXPECT_TRUE(check_ledger(path_, manifest_, {"job", true}).intact());
  {
    LedgerFile f(path_, "job", manifest_);
    EXPECT_EQ(f.roll_back_to(0), 3u);  // a fresh start: every record goes
    EXPECT_EQ(f.head(), ledger_genesis("job", manifest_.hash));
    f.append(record(1, f.head()));
  }
  EXPECT_TRUE(check_ledger(path_, manifest_, {"job", true}).intact());
  EXPECT_EQ(lines_of(read_all(path_ + ".discarded")).size(), 5u);
}

TEST_F(LedgerFileTest, RefusesADamagedLedgerASymlinkAndASecondWriter) {
  auto l = lines();
  write_all(path_, joined({l[0], l[2], l[3]}));
  try {
    LedgerFile f(path_, "job", manifest_);
    ADD_FAILURE() << "a damaged ledger was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is damaged (line 2 breaks the chain"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fedtrain ledger verify"), std::string::npos) << e.what();
  }
  ASSERT_EQ(symlink(dir_.file("target.jsonl").c_str(), dir_.file("link.jsonl").c_str()), 0);
  try {
    LedgerFile f(dir_.file("link.jsonl"), "job", manifest_);
    ADD_FAILURE() << "a symlinked ledger was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
  }
  LedgerFile first(dir_.file("one.jsonl"), "job", manifest_);
  EXPECT_THROW(LedgerFile(dir_.file("one.jsonl"), "job", manifest_), Error);
}

// Two leaders in one process: es and de, each with its own ledger.
class RoundLedgerTest : public ::testing::Test {
 protected:
  RoundLedgerTest() {
    config_.job_id = "rl";
    for (const char* s : {"es", "de"}) {
      SiteConfig site;
      site.name = s;
      const SigningKey k = SigningKey::generate();
      k.save(dir_.file(std::string(s) + ".sign.key"));
      const SigningPublicKey pub = k.public_key();
      site.signing_key = to_base64(pub.data(), pub.size());
      site.signing_secret_key = dir_.file(std::string(s) + ".sign.key");
      site.ledger = dir_.file(std::string(s) + "/ledger.jsonl");
      config_.sites.push_back(site);
    }
  }
  std::unique_ptr<RoundLedger> leader(int site) {
    return std::make_unique<RoundLedger>(config_, site, std::vector<std::string>{"es", "de"});
  }

  testing::TempDir dir_;
  Config config_;
};

TEST_F(RoundLedgerTest, EveryLeaderAppendsTheSameRecordWithEverySignature) {
  auto es = leader(0), de = leader(1);
  Sha256Digest model{};
  model.fill(9);
  const std::vector<Participant> both = {{0, 10}, {1, 20}};
  for (int64_t round = 1; round <= 2; ++round) {
    const auto a = es->sign({round, 0}, both, model, true), b = de->sign({round, 0}, both, model, true);
    ASSERT_EQ(a.size(), RoundLedger::kAttachmentBytes);
    EXPECT_EQ(es->check({a, b}), "");
    EXPECT_EQ(de->check({a, b}), "");
    es->append();
    de->append();
  }
  EXPECT_EQ(read_all(config_.sites[0].ledger), read_all(config_.sites[1].ledger));
  const SigningManifest keys = *load_signing_manifest(config_);
  const LedgerCheck c = check_ledger(config_.sites[0].ledger, keys, {"rl", true});
  EXPECT_TRUE(c.intact()) << problems(c);
  EXPECT_EQ(c.signatures, 4u);
  // Nothing is signed for an outcome that was not applied.
  EXPECT_EQ(es->sign({3, 0}, both, model, false), std::vector<uint8_t>(RoundLedger::kAttachmentBytes, 0));
}

TEST_F(RoundLedgerTest, ABadSignatureOrAnotherRecordFailsTheAttemptNamingTheSite) {
  auto es = leader(0), de = leader(1);
  Sha256Digest model{};
  const std::vector<Participant> both = {{0, 10}, {1, 20}};
  auto a = es->sign({1, 0}, both, model, true), b = de->sign({1, 0}, both, model, true);
  b.back() ^= 1;  // de's signature
  EXPECT_NE(es->check({a, b}).find("round 1 attempt 0: the ledger signature of site 'de' does not verify"),
            std::string::npos);
  // de counts other participants: another record.
  b = de->sign({1, 0}, {{0, 10}}, model, true);
  EXPECT_NE(es->check({a, b}).find("site 'de' signed another ledger record than this site"), std::string::npos);
  // es is one record ahead of de (a ledger lost or rolled back on one site only): another record.
  a = es->sign({1, 0}, both, model, true);
  b = de->sign({1, 0}, both, model, true);
  ASSERT_EQ(es->check({a, b}), "");
  es->append();
  a = es->sign({2, 0}, both, model, true);
  b = de->sign({2, 0}, both, model, true);
  EXPECT_NE(es->check({a, b}).find("site 'de' signed another ledger record"), std::string::npos);
}

TEST_F(RoundLedgerTest, TheSecretKeyMustMatchTheManifest) {
  config_.sites[1].signing_secret_key = config_.sites[0].signing_secret_key;
  const std::string e = config_error([&] { leader(1); });
  EXPECT_NE(e.find("site 'de': signing secret key file '" + config_.sites[0].signing_secret_key +
                   "' does not match the site's signing key in the manifest"),
            std::string::npos) << e;
}

}  // namespace
}  // namespace fedtrain
