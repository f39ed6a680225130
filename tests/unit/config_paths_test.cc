// Config: relative paths beside the config file or under the working directory, and "--KEY=" unsetting a key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

namespace fs = std::filesystem;

// Two sites with every kind of path, all relative.
const char* kIni = R"([run]
job_id = t
metrics_file = out/metrics.jsonl
[data]
test = data/test.h5
[federation]
rounds = 7
allow_two_participants = true
[checkpoint]
every = 2
[site.es]
ranks = 1
data = data/es.h5
public_key_file = keys/es.pub
secret_key = keys/es.key
egress_log = logs/egress-es.jsonl
checkpoint_dir = ckpt/es
[site.de]
ranks = 1
data = ../shared/de.h5
public_key_file = keys/de.pub
secret_key = keys/de.key
checkpoint_dir = ckpt/de
)";

class ConfigPathsTest : public ::testing::Test {
 protected:
  // The config in DIR/etc/fed.ini, read while the working directory is DIR/elsewhere.
  void SetUp() override {
    fs::create_directories(etc_);
    fs::create_directories(elsewhere_);
    std::ofstream(etc_ / "fed.ini") << kIni;
    saved_cwd_ = fs::current_path();
    fs::current_path(elsewhere_);
  }
  void TearDown() override { fs::current_path(saved_cwd_); }
  Config load(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--config", (etc_ / "fed.ini").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return load_config(args, "");
  }
  std::string in_etc(const std::string& p) const { return (etc_ / p).lexically_normal().string(); }
  std::string in_cwd(const std::string& p) const { return (elsewhere_ / p).lexically_normal().string(); }

  testing::TempDir dir_;
  fs::path etc_ = fs::path(dir_.path()) / "etc";
  fs::path elsewhere_ = fs::path(dir_.path()) / "elsewhere";
  fs::path saved_cwd_;
};

TEST_F(ConfigPathsTest, RelativePathsInTheFileAreTakenBesideTheFile) {
  Config c = load({});
  EXPECT_EQ(c.test_file, in_etc("data/test.h5"));
  EXPECT_EQ(c.metrics_file, in_etc("out/metrics.jsonl"));
  EXPECT_EQ(c.sites[0].data, in_etc("data/es.h5"));
  EXPECT_EQ(c.sites[0].public_key_file, in_etc("keys/es.pub"));
  EXPECT_EQ(c.sites[0].secret_key, in_etc("keys/es.key"));
  EXPECT_EQ(c.sites[0].egress_log, in_etc("logs/egress-es.jsonl"));
  EXPECT_EQ(c.sites[0].checkpoint_dir, in_etc("ckpt/es"));
  EXPECT_EQ(c.sites[1].data, (fs::path(dir_.path()) / "shared/de.h5").string());
  // A relative --config is the same file: the paths do not depend on how it was named.
  Config rel = load_config({"--config", "../etc/fed.ini"}, "");
  EXPECT_EQ(rel.sites[0].data, c.sites[0].data);
}

TEST_F(ConfigPathsTest, CommandLinePathsAndDefaultsAreTakenUnderTheWorkingDirectory) {
  Config c = load({"--site.es.data=mine.h5", "--data.test=/abs/test.h5", "--run.metrics_file=m.jsonl"});
  EXPECT_EQ(c.sites[0].data, in_cwd("mine.h5"));
  EXPECT_EQ(c.test_file, "/abs/test.h5");
  EXPECT_EQ(c.metrics_file, in_cwd("m.jsonl"));
  EXPECT_EQ(c.sites[1].egress_log, in_cwd("runs/t/egress-de.jsonl"));  // the default
  // The resolved text names every path resolved, metrics_file included, and read from another
  // folder it still means the same run.
  EXPECT_NE(c.resolved_text.find("metrics_file = " + in_cwd("m.jsonl") + "\n"), std::string::npos) << c.resolved_text;
  EXPECT_NE(c.resolved_text.find("data = " + in_cwd("mine.h5") + "\n"), std::string::npos);
  const fs::path copy = fs::path(dir_.path()) / "resolved.ini";
  std::ofstream(copy) << c.resolved_text;
  EXPECT_EQ(load_config({"--config", copy.string()}, "").resolved_text, c.resolved_text);
}

TEST_F(ConfigPathsTest, AnEmptyValueOnTheCommandLineUnsetsTheKey) {
  // Checkpoints configured in the file, taken away on the command line: no checkpoint_dir is left.
  Config c = load({"--site.es.checkpoint_dir=", "--site.de.checkpoint_dir=", "--checkpoint.every="});
  EXPECT_EQ(c.sites[0].checkpoint_dir, "");
  EXPECT_EQ(c.sites[1].checkpoint_dir, "");
  EXPECT_EQ(c.checkpoint_every, 0);
  EXPECT_FALSE(c.checkpoints_configured());
  EXPECT_EQ(c.resolved_text.find("checkpoint_dir"), std::string::npos) << c.resolved_text;
  // A key with a default gets its default back; the metrics file its default name.
  c = load({"--federation.rounds=", "--run.metrics_file="});
  EXPECT_EQ(c.rounds, 20);
  EXPECT_EQ(c.metrics_file, in_cwd("runs/t/metrics.jsonl"));
  // The last word counts: unset, then set again.
  c = load({"--site.es.checkpoint_dir=", "--site.es.checkpoint_dir=/vol/es"});
  EXPECT_EQ(c.sites[0].checkpoint_dir, "/vol/es");
  // Only one site unset: the all-or-nothing rule of checkpoints speaks.
  try {
    load({"--site.es.checkpoint_dir="});
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("site 'es' has no checkpoint directory"),
              std::string::npos) << e.what();
  }
  // Unsetting a security key is a security override like any other.
  try {
    load({"--site.es.secret_key="});
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("on the command line: security settings"), std::string::npos) << e.what();
  }
  // Options that are no keys cannot be unset.
  try {
    load({"--site="});
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--site= needs a value"), std::string::npos) << e.what();
  }
  // An unknown key is named as before.
  try {
    load({"--federation.roundz="});
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'federation.rounds'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedtrain
