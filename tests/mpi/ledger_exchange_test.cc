// The ledger's signatures in the secure outcome exchange across real ranks: a bad signature fails the
// attempt on every leader, naming the site; the retry is recorded once, with its attempt, identically
// on every site.
#include <gtest/gtest.h>
#include <mpi.h>

#include <fstream>
#include <sstream>

#include "runtime/federation/round_ledger.h"
#include "runtime/federation/secure_aggregator.h"
#include "runtime/ledger/ledger_check.h"
#include "tests/support/secure_leaders.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

bool on_all(bool mine) {
  int in = mine ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out == 1;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every rank a leader with a signing key of its own; the manifest lists them all.
Config signing_config(const Comm& world, const testing::TempDir& dir, const std::vector<std::string>& sites) {
  const SigningKey key = SigningKey::generate();
  key.save(dir.file("own.sign.key"));
  const SigningPublicKey mine = key.public_key();
  std::vector<uint8_t> all(32 * sites.size());
  MPI_Allgather(mine.data(), 32, MPI_BYTE, all.data(), 32, MPI_BYTE, world.get());
  Config c;
  c.job_id = "test";
  for (size_t s = 0; s < sites.size(); ++s) {
    SiteConfig site;
    site.name = sites[s];
    site.signing_key = to_base64(all.data() + 32 * s, 32);
    site.signing_secret_key = dir.file("own.sign.key");  // only this rank's own entry is read
    site.ledger = dir.file("ledger.jsonl");
    c.sites.push_back(site);
  }
  return c;
}

TEST(LedgerExchange, ABadSignatureFailsTheAttemptEverywhereAndTheRetryIsRecordedOnce) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  testing::TempDir dir;
  const Config config = signing_config(world, dir, leaders.sites);
  SecureOptions o;
  o.allow_two_participants = true;  // also under mpiexec -n 2
  SecureAggregator secure(*leaders.transport, nullptr, *leaders.schedule, leaders.sites, "test", o);
  RoundLedger ledger(config, world.rank(), leaders.sites);

  Sha256Digest model{};
  auto attempt = [&](const RoundId& id, bool corrupt) {
    std::vector<float> update(1000, 0.01f);
    UpdateStatus status;
    status.samples = 100 + world.rank();
    status.norm = 1.0;
    const AggregateResult r = secure.average(update, status, id);
    EXPECT_EQ(r.failure, "");
    EXPECT_EQ(r.taking_part.size(), leaders.sites.size());
    model[0] = static_cast<uint8_t>(id.round);
    std::vector<uint8_t> sig = ledger.sign(id, r.taking_part, model, r.outcome == Outcome::kApplied);
    if (corrupt) sig.back() ^= 1;
    Agreement a = secure.agree(r.outcome, model, id, sig);
    EXPECT_TRUE(a.agreed) << a.failure;  // outcome and model agree: only the ledger can fail it
    return ledger.check(a.attachments);
  };
  // Round 1: s1's signature is damaged in attempt 0; every leader refuses it, naming s1.
  const std::string failure = attempt({1, 0}, world.rank() == 1);
  EXPECT_NE(failure.find("round 1 attempt 0: the ledger signature of site 's1' does not verify"), std::string::npos)
      << failure;
  EXPECT_TRUE(on_all(!failure.empty()));
  ASSERT_EQ(attempt({1, 1}, false), "");
  ledger.append();
  ASSERT_EQ(attempt({2, 0}, false), "");
  ledger.append();

  // The same two records on every site, the first with attempt 1 and the participants' counts.
  const std::string text = read_all(config.sites[0].ledger);
  const Sha256Digest mine = sha256(text.data(), text.size());
  std::vector<uint8_t> all(32 * static_cast<size_t>(world.size()));
  MPI_Allgather(mine.data(), 32, MPI_BYTE, all.data(), 32, MPI_BYTE, world.get());
  for (int s = 0; s < world.size(); ++s) EXPECT_TRUE(std::equal(mine.begin(), mine.end(), all.begin() + 32 * s));
  const LedgerCheck c = check_ledger(config.sites[0].ledger, *load_signing_manifest(config), {"test", true});
  EXPECT_TRUE(c.intact());
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries[0].attempt, 1u);
  EXPECT_EQ(c.signatures, 2u * static_cast<uint64_t>(world.size()));
  EXPECT_NE(text.find("{\"site\":\"s1\",\"samples\":101}"), std::string::npos) << text;
}

}  // namespace
}  // namespace fedtrain
