// The checkpoint directory (atomic writes, leftovers, pruning) and the resume decision of the leaders.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/checkpoint/resume_agreement.h"
#include "runtime/core/error.h"
#include "runtime/model/mlp.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

Checkpoint small_checkpoint(int64_t round, const std::string& job = "job", const std::vector<int>& hidden = {4}) {
  Mlp model(6, hidden, 2);
  Checkpoint c;
  c.job_id = job;
  c.round = round;
  c.site = "es";
  c.sites = {"es", "de"};
  c.model_layout = layout_text(model.layout());
  c.model.assign(model.param_count(), 0.5f * static_cast<float>(round));
  c.inner = {{"momentum", std::vector<float>(model.param_count(), 0.25f)}};
  c.inner_steps = 10 * round;
  c.data = {{0, 5}, {0, 6}};
  return c;
}

CheckpointExpectation expectation(const std::string& job = "job") {
  Mlp model(6, {4}, 2);
  CheckpointExpectation e;
  e.job_id = job;
  e.site = "es";
  e.sites = {"es", "de"};
  e.model_layout = layout_text(model.layout());
  e.inner_buffers = {"momentum"};
  e.site_ranks = 2;
  return e;
}

void touch(const std::string& path, const std::string& text = "x") { std::ofstream(path) << text; }

TEST(CheckpointStore, NamesFilesByRoundAndListsOnlyThose) {
  testing::TempDir dir;
  CheckpointStore store(dir.path() + "/ck");
  EXPECT_EQ(store.path_of(120), dir.path() + "/ck/round-000120.h5");
  EXPECT_TRUE(store.rounds().empty());  // no directory yet: nothing, no error
  store.prepare();
  for (int64_t r : {3, 1, 2}) store.write(small_checkpoint(r));
  touch(dir.path() + "/ck/round-000009.h5.tmp");
  touch(dir.path() + "/ck/notes.txt");
  touch(dir.path() + "/ck/round-12.h5");
  EXPECT_EQ(store.rounds(), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(checkpoint_round_of("round-000120.h5"), 120);
  EXPECT_EQ(checkpoint_round_of("round-000120.h5.tmp"), -1);
  EXPECT_EQ(checkpoint_round_of("round-000120.h5.tmp", true), 120);
  EXPECT_EQ(checkpoint_round_of("round-00012x.h5"), -1);
}

TEST(CheckpointStore, AWriteLeavesOnlyTheFinalFile) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  const std::string path = store.write(small_checkpoint(4));
  EXPECT_EQ(path, store.path_of(4));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(read_checkpoint_file(path).inner_steps, 40);
}

// The mode of a file, e.g. 0600.
mode_t mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets the process umask for a scope.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

TEST(CheckpointStore, FilesAreOwnerOnlyFromTheFirstByteWhateverTheUmask) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{0277}}) {
    const std::string tmp = store.path_of(1) + ".tmp";
    touch(tmp);  // a leftover readable by all: replaced, not reused
    ::chmod(tmp.c_str(), 0666);
    std::vector<mode_t> during;  // of the .tmp file, after each dataset
    {
      ScopedUmask umask(mask);
      store.write(small_checkpoint(1), [&](size_t, size_t) { during.push_back(mode_of(tmp)); });
    }
    ASSERT_FALSE(during.empty());
    for (mode_t m : during) EXPECT_EQ(m, 0600u) << "umask " << std::oct << mask << ": the temporary was " << m;
    EXPECT_EQ(mode_of(store.path_of(1)), 0600u) << "umask " << std::oct << mask;
    EXPECT_EQ(read_checkpoint_file(store.path_of(1)).round, 1);
  }
}

TEST(CheckpointStore, AFailedWriteSaysWhereAndLeavesNothing) {
  testing::TempDir dir;
  touch(dir.path() + "/plain-file");
  CheckpointStore store(dir.path() + "/plain-file/ck");  // a path no one can create, root included
  EXPECT_THROW(store.prepare(), Error);
  try {
    store.write(small_checkpoint(1));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(store.path_of(1) + ".tmp"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.rounds(), Error);  // an unusable directory is an error, not "no checkpoints"
}

TEST(CheckpointStore, LeftoverTemporariesAreRemoved) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  touch(dir.path() + "/round-000007.h5.tmp", "half a file");
  touch(dir.path() + "/keep.tmp");
  const auto removed = store.remove_temporaries();
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_FALSE(fs::exists(dir.path() + "/round-000007.h5.tmp"));
  EXPECT_TRUE(fs::exists(dir.path() + "/keep.tmp"));
}

TEST(CheckpointStore, PruneKeepsTheNewestUpToTheCurrentRoundAndDropsNewerOnes) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  for (int64_t r : {1, 2, 3, 4, 7}) store.write(small_checkpoint(r));
  // Round 7 was left by a run that got further than the round the federation resumed from.
  const auto removed = store.prune(/*current=*/4, /*keep=*/2);
  EXPECT_EQ(removed.size(), 3u);
  EXPECT_EQ(store.rounds(), (std::vector<int64_t>{4, 3}));
}

TEST(ResumeScan, SortsEveryFileIntoIntactDamagedMisfitOrForeign) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  store.write(small_checkpoint(1));
  store.write(small_checkpoint(2));
  store.write(small_checkpoint(3));
  fs::resize_file(store.path_of(3), fs::file_size(store.path_of(3)) / 2);  // truncated
  store.write(small_checkpoint(4, "job", {5}));                           // another model
  store.write(small_checkpoint(5, "other-job"));                          // another job
  fs::copy_file(store.path_of(1), store.path_of(6));                      // renamed: round 1 in round 6's name
  touch(dir.path() + "/round-000008.h5.tmp");
  const SiteScan scan = scan_checkpoints(store, expectation());
  EXPECT_EQ(scan.intact, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(scan.damaged, 2);
  EXPECT_EQ(scan.misfit, 1);
  EXPECT_NE(scan.misfit_reason.find("holds another model"), std::string::npos) << scan.misfit_reason;
  EXPECT_EQ(scan.foreign, 1);
  EXPECT_EQ(scan.foreign_job, "other-job");
  EXPECT_TRUE(scan.error.empty());
  EXPECT_FALSE(fs::exists(dir.path() + "/round-000008.h5.tmp"));
  const SiteScan back = decode_scan(encode_scan(scan));
  EXPECT_EQ(back.intact, scan.intact);
  EXPECT_EQ(back.damaged, 2);
  EXPECT_EQ(back.misfit_reason, scan.misfit_reason);
  EXPECT_EQ(back.foreign_job, "other-job");
}

TEST(ResumeScan, MisfitNamesWhatDiffers) {
  bool other_job = false;
  CheckpointExpectation e = expectation();
  Checkpoint c = small_checkpoint(1);
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job), "");
  e.sites = {"es", "fr"};
  EXPECT_NE(checkpoint_misfit("f", c, e, &other_job).find("written for the sites es,de; this run has the sites es,fr"),
            std::string::npos);
  e = expectation();
  e.inner_buffers = {"exp_avg", "exp_avg_sq"};
  EXPECT_NE(checkpoint_misfit("f", c, e, &other_job).find("inner optimizer"), std::string::npos);
  e = expectation();
  e.site_ranks = 3;
  EXPECT_NE(checkpoint_misfit("f", c, e, &other_job).find("now has 3 ranks"), std::string::npos);
  e = expectation("another");
  checkpoint_misfit("f", c, e, &other_job);
  EXPECT_TRUE(other_job);
}

TEST(ResumeScan, AnotherFederationManifestFitsOnlyWhenAllowed) {
  bool other_job = false;
  Checkpoint c = small_checkpoint(1);
  c.manifest_sha256 = std::string(64, 'a');
  CheckpointExpectation e = expectation();
  e.manifest_sha256 = std::string(64, 'a');
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job), "");
  e.manifest_sha256 = std::string(64, 'b');
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job),
            "checkpoint 'f' was written under federation manifest aaaaaaaaaaaaaaaa; the current manifest is "
            "bbbbbbbbbbbbbbbb (a site key changed); to resume after a deliberate key rotation, pass "
            "--checkpoint.allow_manifest_change=true");
  EXPECT_FALSE(other_job);
  e.allow_manifest_change = true;
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job), "");
  // Plaintext on either side: no manifest to compare.
  e = expectation();
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job), "");
  c.manifest_sha256.clear();
  e.manifest_sha256 = std::string(64, 'b');
  EXPECT_EQ(checkpoint_misfit("f", c, e, &other_job), "");
}

TEST(ResumeScan, ADirectoryWrittenUnderAnotherManifestIsRefusedWithTheFlagNamed) {
  testing::TempDir dir;
  CheckpointStore store(dir.path());
  for (int64_t r : {1, 2}) {
    Checkpoint c = small_checkpoint(r);
    c.manifest_sha256 = std::string(64, 'a');
    store.write(c);
  }
  CheckpointExpectation e = expectation();
  e.manifest_sha256 = std::string(64, 'b');
  const SiteScan scan = scan_checkpoints(store, e);
  EXPECT_TRUE(scan.intact.empty());
  EXPECT_EQ(scan.misfit, 2);
  const ResumeDecision d = decide_resume("job", {"es", "de"}, {"/ck/es", "/ck/de"}, {scan, scan}, false);
  EXPECT_EQ(d.kind, ResumeDecision::kRefuse);  // ConfigError, exit 2, on every rank
  EXPECT_NE(d.message.find("to resume after a deliberate key rotation, pass --checkpoint.allow_manifest_change=true"),
            std::string::npos)
      << d.message;
  e.allow_manifest_change = true;
  EXPECT_EQ(scan_checkpoints(store, e).intact, (std::vector<int64_t>{2, 1}));
}

SiteScan scan_of(std::vector<int64_t> intact, int damaged = 0, int misfit = 0, int foreign = 0) {
  SiteScan s;
  s.intact = std::move(intact);
  s.damaged = damaged;
  s.misfit = misfit;
  s.foreign = foreign;
  if (misfit) s.misfit_reason = "checkpoint 'x' holds another model";
  if (foreign) s.foreign_job = "other";
  return s;
}

ResumeDecision decide(const std::vector<SiteScan>& scans, bool required = false) {
  return decide_resume("job", {"es", "de"}, {"/ck/es", "/ck/de"}, scans, required);
}

TEST(ResumeDecision, TheNewestRoundEverySiteHoldsIntact) {
  ResumeDecision d = decide({scan_of({5, 4, 3}), scan_of({4, 3}, 1)});
  EXPECT_EQ(d.kind, ResumeDecision::kResume);
  EXPECT_EQ(d.round, 4);
  d = decide({scan_of({6, 2}), scan_of({5, 2})});
  EXPECT_EQ(d.round, 2);
}

TEST(ResumeDecision, NothingAnywhereStartsAfreshUnlessResumeIsRequired) {
  EXPECT_EQ(decide({scan_of({}), scan_of({})}).kind, ResumeDecision::kFresh);
  ResumeDecision d = decide({scan_of({}), scan_of({})}, /*required=*/true);
  EXPECT_EQ(d.kind, ResumeDecision::kFail);
  EXPECT_NE(d.message.find("--resume: no site holds a checkpoint of job 'job'"), std::string::npos) << d.message;
}

TEST(ResumeDecision, CheckpointsOfAnotherShapeAreRefused) {
  ResumeDecision d = decide({scan_of({}, 0, 2), scan_of({}, 0, 2)});
  EXPECT_EQ(d.kind, ResumeDecision::kRefuse);
  EXPECT_NE(d.message.find("cannot resume job 'job': checkpoint 'x' holds another model"), std::string::npos);
  d = decide({scan_of({}, 0, 0, 1), scan_of({})});
  EXPECT_EQ(d.kind, ResumeDecision::kRefuse);
  EXPECT_NE(d.message.find("holds checkpoints of job 'other'"), std::string::npos) << d.message;
}

TEST(ResumeDecision, NoCommonRoundIsAFailureThatListsEachSite) {
  ResumeDecision d = decide({scan_of({3}), scan_of({}, 2)});
  EXPECT_EQ(d.kind, ResumeDecision::kFail);
  EXPECT_NE(d.message.find("es: intact rounds 3; de: intact rounds none, 2 damaged"), std::string::npos) << d.message;
  SiteScan broken;
  broken.error = "cannot list checkpoint directory '/ck/de': Permission denied";
  d = decide({scan_of({3}), broken});
  EXPECT_EQ(d.kind, ResumeDecision::kFail);
  EXPECT_NE(d.message.find("site 'de': cannot list"), std::string::npos);
}

}  // namespace
}  // namespace fedtrain
