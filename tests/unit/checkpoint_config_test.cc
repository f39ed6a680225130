// Checkpoint settings (keys, --resume), --inject specs and the stop signals, one process.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/injection.h"
#include "runtime/core/stop_signals.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

class CheckpointConfigTest : public ::testing::Test {
 protected:
  std::vector<std::string> args(std::vector<std::string> extra) {
    std::string p = dir_.file("c.ini");
    std::ofstream(p) << "[data]\ntest = t.h5\n[federation]\nsecure = false\n[site.es]\nranks = 1\ndata = es.h5\n"
                        "[site.de]\nranks = 1\ndata = de.h5\n";
    extra.insert(extra.begin(), {"--config", p});
    return extra;
  }
  std::string error_of(std::vector<std::string> extra) {
    try {
      load_config(args(std::move(extra)), "");
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(CheckpointConfigTest, OffByDefault) {
  Config c = load_config(args({}), "");
  EXPECT_EQ(c.checkpoint_every, 0);
  EXPECT_EQ(c.checkpoint_keep_last, 3);
  EXPECT_FALSE(c.checkpoint_allow_manifest_change);
  EXPECT_FALSE(c.resume);
  EXPECT_FALSE(c.checkpoints_configured());
}

TEST_F(CheckpointConfigTest, PerSiteDirectoriesEveryKeepAndResume) {
  Config c = load_config(args({"--site.es.checkpoint_dir=/v/es", "--site.de.checkpoint_dir=/v/de",
                               "--checkpoint.every=5", "--checkpoint.keep_last=2",
                               "--checkpoint.allow_manifest_change=true", "--resume"}),
                         "");
  EXPECT_TRUE(c.checkpoints_configured());
  EXPECT_EQ(c.sites[0].checkpoint_dir, "/v/es");
  EXPECT_EQ(c.checkpoint_every, 5);
  EXPECT_EQ(c.checkpoint_keep_last, 2);
  EXPECT_TRUE(c.checkpoint_allow_manifest_change);
  EXPECT_TRUE(c.resume);
  EXPECT_NE(c.resolved_text.find("[checkpoint]\nevery = 5\nkeep_last = 2\n"), std::string::npos) << c.resolved_text;
  EXPECT_NE(c.resolved_text.find("checkpoint_dir = /v/de"), std::string::npos);
}

TEST_F(CheckpointConfigTest, MistakesNameTheKeyAndTheFix) {
  EXPECT_NE(error_of({"--checkpoint.every=2"}).find("site 'es' has no checkpoint directory: set [site.es] checkpoint_dir"),
            std::string::npos);
  EXPECT_NE(error_of({"--site.es.checkpoint_dir=/v/es"}).find("site 'de' has no checkpoint_dir while other sites have one"),
            std::string::npos);
  EXPECT_NE(error_of({"--site.es.checkpoint_dir=/v", "--site.de.checkpoint_dir=/v"}).find("share checkpoint_dir '/v'"),
            std::string::npos);
  EXPECT_NE(error_of({"--resume"}).find("--resume needs checkpoints"), std::string::npos);
  EXPECT_NE(error_of({"--checkpoint.keep_last=0"}).find("checkpoint.keep_last"), std::string::npos);
  EXPECT_NE(error_of({"--checkpoint.evry=1"}).find("did you mean 'checkpoint.every'"), std::string::npos);
}

TEST(Inject, ParsesTheSpecsOfOneKind) {
  auto crashes = injections_of({"crash:site=es,round=3,at=checkpoint_write", "signal:site=de,round=2", "crash:"}, "crash");
  ASSERT_EQ(crashes.size(), 2u);
  EXPECT_EQ(crashes[0].get("site"), "es");
  EXPECT_EQ(crashes[0].get_int("round", 0), 3);
  EXPECT_EQ(crashes[0].get("at"), "checkpoint_write");
  EXPECT_EQ(crashes[1].get("site", "none"), "none");
  EXPECT_THROW(injections_of({"crash:site"}, "crash"), ConfigError);
  EXPECT_THROW(injections_of({"crash:round=x"}, "crash")[0].get_int("round", 0), ConfigError);
}

TEST(StopSignals, RecordTheSignalAndRestoreTheOldHandlers) {
  {
    StopSignals s;
    EXPECT_EQ(s.requested(), 0);
    std::raise(SIGUSR1);
    EXPECT_EQ(s.requested(), SIGUSR1);
    std::raise(SIGTERM);  // the first SIGTERM is a request too
    EXPECT_EQ(s.requested(), SIGTERM);
  }
  struct sigaction now {};
  sigaction(SIGUSR1, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
  EXPECT_EQ(signal_name(SIGUSR1), "SIGUSR1");
}

}  // namespace
}  // namespace fedtrain
