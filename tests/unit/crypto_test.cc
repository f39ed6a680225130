// Site identities, the manifest, the key schedule and the AES wrappers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include "runtime/core/error.h"
#include "runtime/crypto/aes.h"
#include "runtime/crypto/key_schedule.h"
#include "runtime/crypto/manifest.h"
#include "runtime/crypto/x25519.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

std::string hex(const uint8_t* p, size_t n) { return to_hex(p, n); }

std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(X25519, BothSidesAgreeAndKeysSurviveTheirFiles) {
  testing::TempDir dir;
  SecretKey a = SecretKey::generate(), b = SecretKey::generate();
  EXPECT_EQ(a.agree(b.public_key()), b.agree(a.public_key()));
  EXPECT_NE(a.public_key(), b.public_key());
  a.save(dir.file("a.key"));
  struct stat st;
  ASSERT_EQ(stat(dir.file("a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(SecretKey::load(dir.file("a.key"), "es").public_key(), a.public_key());
  EXPECT_THROW(a.save(dir.file("a.key")), Error);  // never overwrites
}

TEST(X25519, KeyFileProblemsNameTheSiteAndTheFile) {
  testing::TempDir dir;
  SecretKey::generate().save(dir.file("k.key"));
  chmod(dir.file("k.key").c_str(), 0640);
  std::string e = config_error([&] { SecretKey::load(dir.file("k.key"), "de"); });
  EXPECT_NE(e.find("site 'de': secret key file '" + dir.file("k.key") + "' has mode 640"), std::string::npos) << e;
  e = config_error([&] { SecretKey::load(dir.file("none.key"), "de"); });
  EXPECT_NE(e.find("none.key' cannot be read"), std::string::npos) << e;
  std::ofstream(dir.file("junk.key")) << "not a key\n";
  chmod(dir.file("junk.key").c_str(), 0600);
  e = config_error([&] { SecretKey::load(dir.file("junk.key"), "de"); });
  EXPECT_NE(e.find("does not hold an X25519 private key"), std::string::npos) << e;
}

TEST(X25519, KeyFileOpenToOthersIsRefusedNamingTheFileAndTheFix) {
  testing::TempDir dir;
  SecretKey::generate().save(dir.file("k.key"));
  chmod(dir.file("k.key").c_str(), 0644);
  const std::string e = config_error([&] { SecretKey::load(dir.file("k.key"), "es"); });
  EXPECT_NE(e.find("site 'es': secret key file '" + dir.file("k.key") + "' has mode 644"), std::string::npos) << e;
  EXPECT_NE(e.find("chmod 600 '" + dir.file("k.key") + "'"), std::string::npos) << e;
}

// The layout of a Kubernetes Secret volume: KEY -> ..data/KEY, ..data -> a timestamped directory.
// The link is followed; the file at its end must be private.
TEST(X25519, KeyFileBehindSymlinksLoadsWhenItsTargetIsPrivate) {
  testing::TempDir dir;
  ASSERT_EQ(mkdir(dir.file("..2024_05_01_12_00_00.1").c_str(), 0755), 0);
  SecretKey key = SecretKey::generate();
  key.save(dir.file("..2024_05_01_12_00_00.1/es.key"));
  ASSERT_EQ(symlink("..2024_05_01_12_00_00.1", dir.file("..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/es.key", dir.file("es.key").c_str()), 0);
  EXPECT_EQ(SecretKey::load(dir.file("es.key"), "es").public_key(), key.public_key());

  chmod(dir.file("..2024_05_01_12_00_00.1/es.key").c_str(), 0644);
  const std::string e = config_error([&] { SecretKey::load(dir.file("es.key"), "es"); });
  EXPECT_NE(e.find("secret key file '" + dir.file("es.key") + "' has mode 644"), std::string::npos) << e;
}

TEST(X25519, KeyFileOwnedByAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  testing::TempDir dir;
  SecretKey::generate().save(dir.file("k.key"));
  ASSERT_EQ(chown(dir.file("k.key").c_str(), 65534, 65534), 0);
  const std::string e = config_error([&] { SecretKey::load(dir.file("k.key"), "es"); });
  EXPECT_NE(e.find("site 'es': secret key file '" + dir.file("k.key") + "' is owned by uid 65534"), std::string::npos)
      << e;
}

TEST(X25519, KeyPathThatIsNoFileGivesAClearErrorAndNeverBlocks) {
  testing::TempDir dir;
  std::string e = config_error([&] { SecretKey::load(dir.path(), "es"); });
  EXPECT_NE(e.find("secret key file '" + dir.path() + "' is a directory, not a regular file"), std::string::npos) << e;

  // Opening a FIFO for reading waits for a writer, unless it is opened non-blocking.
  const std::string fifo = dir.file("es.key");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto loading = std::async(std::launch::async, [&] { return config_error([&] { SecretKey::load(fifo, "es"); }); });
  if (loading.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "SecretKey::load blocks on a FIFO";
    const int w = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // lets it go
    if (w >= 0) close(w);
  }
  e = loading.get();
  EXPECT_NE(e.find("secret key file '" + fifo + "' is a FIFO, not a regular file"), std::string::npos) << e;
}

// The path flips between a private key and a key open to others while it is loaded, again and again:
// a load either refuses the loose one or returns the private one. Checking the path and then opening
// it (instead of checking what was opened) returns the loose key once a flip lands in between.
TEST(X25519, KeyFileIsCheckedAsOpenedNotByItsPath) {
  testing::TempDir dir;
  SecretKey good = SecretKey::generate(), loose = SecretKey::generate();
  good.save(dir.file("good.key"));
  loose.save(dir.file("loose.key"));
  chmod(dir.file("loose.key").c_str(), 0644);
  const std::string path = dir.file("es.key"), tmp = dir.file("es.key.tmp");
  ASSERT_EQ(symlink("good.key", path.c_str()), 0);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (bool to_loose = true; !stop.load(std::memory_order_relaxed); to_loose = !to_loose) {
      if (symlink(to_loose ? "loose.key" : "good.key", tmp.c_str()) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
        unlink(tmp.c_str());
      }
    }
  });
  // About 1 load in 100 catches a flip between a stat() and a later open(): 1000 of each outcome
  // (a fraction of a second) catch one nearly always.
  constexpr int kEach = 1000;
  int loaded = 0, refused = 0, loose_loaded = 0;
  std::string other_error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((loaded < kEach || refused < kEach) && std::chrono::steady_clock::now() < deadline) {
    try {
      const PublicKey got = SecretKey::load(path, "es").public_key();
      if (got == loose.public_key()) ++loose_loaded;
      else ++loaded;
    } catch (const ConfigError& e) {
      ++refused;
      if (std::string(e.what()).find("has mode 644") == std::string::npos) other_error = e.what();
    }
  }
  stop = true;
  flipper.join();
  EXPECT_EQ(loose_loaded, 0) << "the key open to others was loaded " << loose_loaded << " times";
  EXPECT_EQ(other_error, "");
  EXPECT_GE(loaded, kEach) << "the path did not flip enough within 30 s to test anything";
  EXPECT_GE(refused, kEach) << "the path did not flip enough within 30 s to test anything";
}

TEST(X25519, PublicKeysAsBase64) {
  const PublicKey k = SecretKey::generate().public_key();
  const std::string b64 = to_base64(k.data(), k.size());
  EXPECT_EQ(b64.size(), 44u);
  EXPECT_EQ(public_key_from_base64(b64 + "\n", "key"), k);
  EXPECT_THROW(public_key_from_base64("abc", "key"), ConfigError);
  EXPECT_THROW(public_key_from_base64(b64.substr(0, 40) + "====", "key"), ConfigError);
}

TEST(Manifest, RejectsDuplicatesAndHashesEverything) {
  const PublicKey a = SecretKey::generate().public_key(), b = SecretKey::generate().public_key();
  EXPECT_NE(config_error([&] { Manifest({{"es", a}, {"es", b}}); }).find("lists site 'es' twice"), std::string::npos);
  EXPECT_NE(config_error([&] { Manifest({{"es", a}, {"de", a}}); }).find("have the same public key"), std::string::npos);
  const Manifest m({{"es", a}, {"de", b}});
  EXPECT_NE(m.hash(), Manifest({{"de", b}, {"es", a}}).hash());
  EXPECT_NE(m.hash(), Manifest({{"es", b}, {"de", a}}).hash());
  EXPECT_NE(m.hash(), Manifest({{"es", a}, {"fr", b}}).hash());
}

TEST(KeySchedule, Rfc5869TestCase1) {
  std::vector<uint8_t> ikm(22, 0x0b), salt(13);
  for (int i = 0; i < 13; ++i) salt[i] = static_cast<uint8_t>(i);
  std::string info;
  for (int i = 0; i < 10; ++i) info.push_back(static_cast<char>(0xf0 + i));
  const Key256 okm = hkdf_sha256(ikm.data(), ikm.size(), salt.data(), salt.size(), info);
  EXPECT_EQ(hex(okm.data(), okm.size()), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(KeySchedule, BothSitesDeriveTheSameKeysAndEveryInputSeparatesThem) {
  SecretKey a = SecretKey::generate(), b = SecretKey::generate(), c = SecretKey::generate();
  const Manifest m({{"a", a.public_key()}, {"b", b.public_key()}, {"c", c.public_key()}});
  KeySchedule ka(m, 0, a, "job"), kb(m, 1, b, "job");
  const Sha256Digest session = sha256("session", 7);
  ka.set_session(session);
  kb.set_session(session);
  EXPECT_EQ(ka.mask_key(1, 3, 0), kb.mask_key(0, 3, 0));
  EXPECT_EQ(ka.channel_key(0, 1, 3, 0), kb.channel_key(0, 1, 3, 0));
  EXPECT_EQ(ka.channel_key(1, 0, 3, 0), kb.channel_key(1, 0, 3, 0));
  EXPECT_NE(ka.channel_key(0, 1, 3, 0), ka.channel_key(1, 0, 3, 0));  // one key per direction
  EXPECT_NE(ka.mask_key(1, 3, 0), ka.mask_key(1, 4, 0));              // round
  EXPECT_NE(ka.mask_key(1, 3, 0), ka.mask_key(1, 3, 1));              // attempt
  EXPECT_NE(ka.mask_key(1, 3, 0), ka.mask_key(2, 3, 0));              // pair
  EXPECT_NE(ka.mask_key(1, 3, 0), ka.channel_key(0, 1, 3, 0));        // purpose
  KeySchedule other_job(m, 0, a, "job2");
  other_job.set_session(session);
  EXPECT_NE(ka.mask_key(1, 3, 0), other_job.mask_key(1, 3, 0));
  KeySchedule other_session(m, 0, a, "job");
  other_session.set_session(sha256("restart", 7));
  EXPECT_NE(ka.mask_key(1, 3, 0), other_session.mask_key(1, 3, 0));
  // A different manifest (here: another site added) gives different keys for the same pair.
  const Manifest m2({{"a", a.public_key()}, {"b", b.public_key()}});
  KeySchedule small(m2, 0, a, "job");
  small.set_session(session);
  EXPECT_NE(ka.mask_key(1, 3, 0), small.mask_key(1, 3, 0));
}

TEST(Aes, GcmKnownAnswerRoundTripAndTamper) {
  // McGrew & Viega, GCM test case 14: 256-bit zero key, zero IV, 16 zero bytes.
  Aes256Gcm zero(Key256{});
  const GcmNonce nonce{};
  uint8_t pt[16] = {0}, ct[16];
  GcmTag tag;
  zero.seal(nonce, nullptr, 0, pt, 16, ct, tag);
  EXPECT_EQ(hex(ct, 16), "cea7403d4d606b6e074ec5d3baf39d18");
  EXPECT_EQ(hex(tag.data(), 16), "d0d1c8a799996bf0265b98b5d48ab919");

  Key256 key{};
  key[0] = 7;
  Aes256Gcm g(key);
  const std::string aad = "header", msg = "a pseudo-gradient, masked";
  std::vector<uint8_t> c(msg.size()), back(msg.size());
  g.seal(nonce, reinterpret_cast<const uint8_t*>(aad.data()), aad.size(), reinterpret_cast<const uint8_t*>(msg.data()),
         msg.size(), c.data(), tag);
  ASSERT_TRUE(g.open(nonce, reinterpret_cast<const uint8_t*>(aad.data()), aad.size(), c.data(), c.size(), back.data(), tag));
  EXPECT_EQ(std::string(back.begin(), back.end()), msg);
  c[3] ^= 1;
  EXPECT_FALSE(g.open(nonce, reinterpret_cast<const uint8_t*>(aad.data()), aad.size(), c.data(), c.size(), back.data(), tag));
  c[3] ^= 1;
  const std::string other = "Header";
  EXPECT_FALSE(g.open(nonce, reinterpret_cast<const uint8_t*>(other.data()), other.size(), c.data(), c.size(), back.data(), tag));
}

TEST(Aes, CtrKeystreamContinuesAcrossCalls) {
  Key256 key{};
  key[5] = 9;
  Aes256Ctr one(key), two(key);
  std::vector<uint8_t> whole(1000), a(333), b(667);
  one.next(whole.data(), whole.size());
  two.next(a.data(), a.size());
  two.next(b.data(), b.size());
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(whole, a);
}

TEST(Aes, CtrSeekGivesTheKeystreamFromAnyByteOn) {
  Key256 key{};
  key[1] = 3;
  Aes256Ctr one(key), two(key);
  std::vector<uint8_t> whole(100000);
  one.next(whole.data(), whole.size());
  // Block-aligned, unaligned, backwards and across the 2^8 counter byte.
  for (size_t offset : {size_t{4096}, size_t{4099}, size_t{17}, size_t{0}, size_t{99999}, size_t{255 * 16 + 5}}) {
    std::vector<uint8_t> part(whole.size() - offset);
    two.seek(offset);
    two.next(part.data(), part.size());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + offset)) << "offset " << offset;
  }
}

}  // namespace
}  // namespace fedtrain
