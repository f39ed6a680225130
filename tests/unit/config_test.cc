// Config: INI + command line, precedence, and the errors a user sees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

const char* kIni = R"([run]
job_id = t
[data]
test = test.h5
[federation]
rounds = 7
secure = false
[site.es]
ranks = 2
data = es.h5
[site.de]
ranks = 3
data = de.h5
)";

class ConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::string p = dir_.file("c" + std::to_string(n_++) + ".ini");
    std::ofstream(p) << text;
    return p;
  }
  std::string error_of(const std::vector<std::string>& args) {
    try {
      load_config(args, "");
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.exit_code(), 2);
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  }
  testing::TempDir dir_;
  int n_ = 0;
};

TEST_F(ConfigTest, ReadsFileWithDefaultsAndSitesInOrder) {
  Config c = load_config({"--config", write(kIni)}, "");
  EXPECT_EQ(c.job_id, "t");
  EXPECT_EQ(c.rounds, 7);
  EXPECT_EQ(c.local_steps, 50);  // default
  ASSERT_EQ(c.sites.size(), 2u);
  EXPECT_EQ(c.sites[0].name, "es");
  EXPECT_EQ(c.sites[1].name, "de");
  EXPECT_EQ(c.sites[1].ranks, 3);
  EXPECT_EQ(c.world_size().value(), 5);
  EXPECT_EQ(c.metrics_file, (std::filesystem::current_path() / "runs/t/metrics.jsonl").string());
}

TEST_F(ConfigTest, CommandLineOverridesFileInBothSpellings) {
  Config c = load_config({"--config", write(kIni), "--federation.rounds=3", "--inner.lr", "0.2",
                          "--site.de.ranks=1", "--site.fr.ranks=2", "--site.fr.data=fr.h5"},
                         "");
  EXPECT_EQ(c.rounds, 3);
  EXPECT_FLOAT_EQ(c.inner.lr, 0.2f);
  EXPECT_EQ(c.sites[1].ranks, 1);
  ASSERT_EQ(c.sites.size(), 3u);
  EXPECT_EQ(c.sites[2].name, "fr");
  // The resolved text reproduces the run.
  Config again = load_config({"--config", write(c.resolved_text)}, "");
  EXPECT_EQ(again.resolved_text, c.resolved_text);
}

TEST_F(ConfigTest, UnknownKeyIsNamedWithASuggestion) {
  std::string e = error_of({"--config", write(std::string(kIni) + "[federation]\nround = 3\n")});
  EXPECT_NE(e.find("'federation.round'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'federation.rounds'"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--federation.roundz=3"});
  EXPECT_NE(e.find("federation.roundz"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--site.es.rank=3"});
  EXPECT_NE(e.find("site.es.rank"), std::string::npos) << e;
}

TEST_F(ConfigTest, NoPrefixGuessing) {
  std::string e = error_of({"--config", write(kIni), "--federation.r=3"});
  EXPECT_NE(e.find("federation.r"), std::string::npos) << e;
}

TEST_F(ConfigTest, BadValuesNameKeyAndAllowedValues) {
  std::string e = error_of({"--config", write(kIni), "--federation.rounds=abc"});
  EXPECT_NE(e.find("federation.rounds"), std::string::npos) << e;
  EXPECT_NE(e.find("'abc'"), std::string::npos) << e;
  EXPECT_NE(e.find("integer from 1"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--inner.optimizer=adam"});
  EXPECT_NE(e.find("one of sgd, adamw"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--inner.lr=-1"});
  EXPECT_NE(e.find("inner.lr"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--model.hidden=256,,3"});
  EXPECT_NE(e.find("model.hidden"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--outer.nesterov=maybe"});
  EXPECT_NE(e.find("true or false"), std::string::npos) << e;
}

TEST_F(ConfigTest, CryptoThreadsAreAutoByDefaultOrACount) {
  EXPECT_EQ(load_config({"--config", write(kIni)}, "").exchange.crypto_threads, -1);  // auto
  EXPECT_EQ(load_config({"--config", write(kIni), "--federation.crypto_threads=0"}, "").exchange.crypto_threads, 0);
  EXPECT_EQ(load_config({"--config", write(kIni), "--federation.crypto_threads=3"}, "").exchange.crypto_threads, 3);
  for (const char* bad : {"--federation.crypto_threads=many", "--federation.crypto_threads=-1",
                          "--federation.crypto_threads=65"}) {
    const std::string e = error_of({"--config", write(kIni), bad});
    EXPECT_NE(e.find("'federation.crypto_threads'"), std::string::npos) << e;
    EXPECT_NE(e.find("expected auto or an integer from 0 to 64"), std::string::npos) << e;
  }
}

TEST_F(ConfigTest, StructuralErrors) {
  EXPECT_NE(error_of({"--config", dir_.file("missing.ini")}).find("cannot read config file"), std::string::npos);
  EXPECT_NE(error_of({"--config", write(std::string(kIni) + "[federation]\nrounds = 4\n")}).find("more than once"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("[data]\ntest = t.h5\n")}).find("no sites"), std::string::npos);
  EXPECT_NE(error_of({"--config", write("[data]\ntest = t.h5\n[site.a]\nranks = 1\n")}).find("site.a] data"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write("[data]\ntest = t.h5\n[site.a]\ndata = a.h5\n")}).find("rank count"),
            std::string::npos);
  EXPECT_NE(error_of({"--config", write(kIni), "stray"}).find("unexpected argument 'stray'"), std::string::npos);
  EXPECT_NE(error_of({"--config", write("this is not ini\n")}).find("config file"), std::string::npos);
}

TEST_F(ConfigTest, DeviceCollectivesAndTimeoutKeys) {
  Config d = load_config({"--config", write(kIni)}, "");
  EXPECT_EQ(d.device, DeviceKind::kAuto);
  EXPECT_EQ(d.collectives, SiteCollectivesKind::kAuto);
  EXPECT_EQ(d.collective_timeout_s, 300.0);
  Config c = load_config({"--config", write(std::string(kIni) + "[site]\ncollectives = nccl\n"), "--run.device=cuda",
                          "--site.collective_timeout_s=2.5"},
                         "");
  EXPECT_EQ(c.device, DeviceKind::kCuda);
  EXPECT_EQ(c.collectives, SiteCollectivesKind::kNccl);
  EXPECT_EQ(c.collective_timeout_s, 2.5);
  EXPECT_NE(c.resolved_text.find("[site]\nbucket_mib = 4\ncollectives = nccl\ncollective_timeout_s = 2.5\n"),
            std::string::npos)
      << c.resolved_text;
  EXPECT_EQ(load_config({"--config", write(kIni), "--run.device=cpu", "--site.collectives=mpi"}, "").device,
            DeviceKind::kCpu);

  std::string e = error_of({"--config", write(kIni), "--run.device=gpu"});
  EXPECT_NE(e.find("'run.device': 'gpu' is not valid; expected one of auto, cpu, cuda"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--site.collectives=gloo"});
  EXPECT_NE(e.find("expected one of auto, nccl, mpi"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--site.collective_timeout_s=-1"});
  EXPECT_NE(e.find("site.collective_timeout_s"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--run.device=cpu", "--site.collectives=nccl"});
  EXPECT_NE(e.find("site.collectives = nccl needs GPUs, but run.device = cpu"), std::string::npos) << e;
}

TEST_F(ConfigTest, LeaderAddressesForOneJobPerSite) {
  const std::string keys = "public_key_file = k.pub\nsecret_key = k.key\n";
  const std::string ini = std::string(kIni) + "[site.es]\n" + keys + "leader = 10.0.0.1:29500\n";
  std::string e = error_of({"--config", write(ini)});
  EXPECT_NE(e.find("site 'de' has no leader address while other sites have one"), std::string::npos) << e;
  const std::string both = ini + "[site.de]\n" + keys;
  Config c = load_config({"--config", write(both), "--site.de.leader=de.example.org:29501",
                          "--site.de.listen=0.0.0.0:29501", "--federation.peer_timeout_s=30"},
                         "");
  EXPECT_TRUE(c.leaders_addressed());
  EXPECT_EQ(c.sites[1].leader, "de.example.org:29501");
  EXPECT_EQ(c.sites[1].listen, "0.0.0.0:29501");
  EXPECT_EQ(c.exchange.peer_timeout_s, 30.0);
  EXPECT_EQ(c.exchange.connect_timeout_s, 120.0);
  EXPECT_NE(c.resolved_text.find("leader = de.example.org:29501\nlisten = 0.0.0.0:29501\n"), std::string::npos);
  EXPECT_FALSE(load_config({"--config", write(kIni)}, "").leaders_addressed());

  e = error_of({"--config", write(both), "--site.de.leader=10.0.0.2"});
  EXPECT_NE(e.find("site.de.leader = '10.0.0.2': no HOST:PORT"), std::string::npos) << e;
  e = error_of({"--config", write(both), "--site.de.leader=10.0.0.2:70000"});
  EXPECT_NE(e.find("the port is not in 1-65535"), std::string::npos) << e;
  e = error_of({"--config", write(both), "--site.de.leader=10.0.0.1:29500"});
  EXPECT_NE(e.find("sites 'es' and 'de' share leader address 10.0.0.1:29500"), std::string::npos) << e;
  e = error_of({"--config", write(std::string(kIni) + "[site.es]\nlisten = 0.0.0.0:1\n")});
  EXPECT_NE(e.find("site 'es' has listen = 0.0.0.0:1 but no leader address"), std::string::npos) << e;
  // Plaintext, but the leaders still authenticate: every site needs its keys.
  e = error_of({"--config", write(std::string(kIni) + "[site.es]\nleader = a:1\n[site.de]\nleader = b:2\n")});
  EXPECT_NE(e.find("site 'es' needs public_key (or public_key_file) and secret_key"), std::string::npos) << e;
  e = error_of({"--config", write(both), "--site.de.leader=b:2", "--federation.peer_timeout_s=0"});
  EXPECT_NE(e.find("federation.peer_timeout_s"), std::string::npos) << e;
}

TEST_F(ConfigTest, SecureAggregationNeedsEverySitesKeys) {
  const std::string ini = "[data]\ntest = t.h5\n[federation]\nallow_two_participants = true\n"
                          "[site.a]\nranks = 1\ndata = a.h5\n[site.b]\nranks = 1\ndata = b.h5\n";
  const std::string overrides = "--allow-security-overrides";
  std::string e = error_of({"--config", write(ini)});
  EXPECT_NE(e.find("site 'a' needs exactly one of [site.a] public_key or public_key_file"), std::string::npos) << e;
  e = error_of({"--config", write(ini), overrides, "--site.a.public_key=x", "--site.b.public_key=y"});
  EXPECT_NE(e.find("site 'a' has no secret key file"), std::string::npos) << e;
  e = error_of({"--config", write(ini), overrides, "--site.a.public_key=x", "--site.b.public_key=y",
                "--site.a.secret_key=a", "--site.b.secret_key=b", "--federation.min_sites=1"});
  EXPECT_NE(e.find("federation.min_sites' = 1 with secure aggregation"), std::string::npos) << e;
  Config c = load_config({"--config", write(ini), overrides, "--federation.secure=false"}, "");
  EXPECT_FALSE(c.exchange.secure);
  EXPECT_EQ(c.sites[1].egress_log, (std::filesystem::current_path() / "runs/fedtrain/egress-b.jsonl").string());
}

TEST_F(ConfigTest, SecuritySettingsComeFromTheFileUnlessOverridesAreAllowed) {
  for (const char* key : {"--federation.secure=false", "--site.es.public_key=x", "--site.de.public_key_file=k.pub",
                          "--site.es.secret_key=/tmp/other.key", "--site.es.signing_key=x",
                          "--site.de.signing_key_file=k.sign.pub", "--site.es.signing_secret_key=/tmp/o.sign.key"}) {
    const std::string e = error_of({"--config", write(kIni), key});
    EXPECT_NE(e.find("on the command line: security settings"), std::string::npos) << key << ": " << e;
    EXPECT_NE(e.find("--allow-security-overrides"), std::string::npos) << e;
    // The message lists every security key, taken from the key table.
    EXPECT_NE(e.find("(federation.secure, [site.NAME] public_key, public_key_file, secret_key, signing_key, "
                     "signing_key_file, signing_secret_key)"),
              std::string::npos)
        << e;
  }
  // Other keys stay free to override, and the flag allows the security ones.
  EXPECT_EQ(load_config({"--config", write(kIni), "--federation.rounds=3"}, "").rounds, 3);
  EXPECT_FALSE(load_config({"--config", write(kIni), "--allow-security-overrides", "--federation.secure=false"}, "")
                   .exchange.secure);
}

TEST_F(ConfigTest, SigningKeysOnEverySiteOrNoneAndTheLedgerPathDefaults) {
  Config c = load_config({"--config", write(kIni)}, "");
  EXPECT_FALSE(c.ledger_configured());
  EXPECT_EQ(c.resolved_text.find("ledger ="), std::string::npos);
  const std::string keys = std::string(kIni) + "signing_key_file = de.sign.pub\nsigning_secret_key = de.sign.key\n";
  std::string e = error_of({"--config", write(keys)});
  EXPECT_NE(e.find("site 'es' has no signing key while other sites have one"), std::string::npos) << e;
  std::string both = std::string(kIni);
  both.insert(both.find("[site.de]"), "signing_key_file = es.sign.pub\n");
  e = error_of({"--config", write(both + "signing_key_file = de.sign.pub\n")});
  EXPECT_NE(e.find("site 'es' has no signing secret key file: set [site.es] signing_secret_key"), std::string::npos) << e;
  both.insert(both.find("[site.de]"), "signing_secret_key = es.sign.key\ncheckpoint_dir = ck/es\n");
  c = load_config({"--config", write(both + "signing_key_file = de.sign.pub\nsigning_secret_key = de.sign.key\n"
                                              "checkpoint_dir = ck/de\nledger = /audit/de.jsonl\n")},
                  "");
  EXPECT_TRUE(c.ledger_configured());
  EXPECT_EQ(c.sites[0].ledger, dir_.file("ck/es/ledger.jsonl"));  // beside the checkpoints, beside the config
  EXPECT_EQ(c.sites[1].ledger, "/audit/de.jsonl");
  EXPECT_NE(c.resolved_text.find("signing_secret_key = " + dir_.file("de.sign.key") + "\nledger = /audit/de.jsonl\n"),
            std::string::npos)
      << c.resolved_text;
  // The ledger's path is no security setting: a site may move it on the command line.
  c = load_config({"--config", write(both + "signing_key_file = de.sign.pub\nsigning_secret_key = de.sign.key\n"
                                              "checkpoint_dir = ck/de\n"), "--site.de.ledger=x.jsonl"},
                  "");
  EXPECT_EQ(c.sites[1].ledger, (std::filesystem::current_path() / "x.jsonl").string());  // from the working directory
}

TEST_F(ConfigTest, TwoSitesWithSecureAggregationMustBeAcknowledged) {
  const std::string ini =
      "[data]\ntest = t.h5\n[site.a]\nranks = 1\ndata = a.h5\npublic_key = x\nsecret_key = a.key\n"
      "[site.b]\nranks = 1\ndata = b.h5\npublic_key = y\nsecret_key = b.key\n";
  const std::string e = error_of({"--config", write(ini)});
  EXPECT_NE(e.find("2 sites with secure aggregation: in every round each leader can compute the other site's update"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("federation.allow_two_participants = true"), std::string::npos) << e;
  const Config c = load_config({"--config", write(ini), "--federation.allow_two_participants=true"}, "");
  EXPECT_TRUE(c.exchange.allow_two_participants);
  const std::string three = ini + "[site.c]\nranks = 1\ndata = c.h5\npublic_key = z\nsecret_key = c.key\n";
  EXPECT_FALSE(load_config({"--config", write(three)}, "").exchange.allow_two_participants);
}

TEST_F(ConfigTest, PerProcessSiteNaming) {
  const std::string ini =
      "[data]\ntest = t.h5\n[federation]\nsecure = false\n[site.a]\ndata = a.h5\n[site.b]\ndata = b.h5\n";
  Config c = load_config({"--config", write(ini), "--site", "b"}, "");
  EXPECT_EQ(c.process_site, "b");
  EXPECT_FALSE(c.world_size().has_value());
  Config env = load_config({"--config", write(ini)}, "a");
  EXPECT_EQ(env.process_site, "a");
  try {
    load_config({"--config", write(ini), "--site", "zz"}, "");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'zz'"), std::string::npos);
  }
}

TEST_F(ConfigTest, MonitoringKeys) {
  Config off = load_config({"--config", write(kIni)}, "");
  EXPECT_EQ(off.monitoring.port, 0);
  EXPECT_EQ(off.monitoring.address, "0.0.0.0");
  Config c = load_config({"--config", write(kIni), "--monitoring.port=9400", "--monitoring.address=127.0.0.1",
                          "--monitoring.linger_s=2.5"},
                         "");
  EXPECT_EQ(c.monitoring.port, 9400);
  EXPECT_EQ(c.monitoring.address, "127.0.0.1");
  EXPECT_DOUBLE_EQ(c.monitoring.linger_s, 2.5);
  // Two sites listen on port and port + 1: the last port must exist.
  EXPECT_EQ(load_config({"--config", write(kIni), "--monitoring.port=65534"}, "").monitoring.port, 65534);
  std::string e = error_of({"--config", write(kIni), "--monitoring.port=65535"});
  EXPECT_NE(e.find("monitoring.port"), std::string::npos) << e;
  EXPECT_NE(e.find("port + site index"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--monitoring.address=127.0.0.1:80"});
  EXPECT_NE(e.find("monitoring.address"), std::string::npos) << e;
  e = error_of({"--config", write(kIni), "--monitoring.linger_s=-1"});
  EXPECT_NE(e.find("monitoring.linger_s"), std::string::npos) << e;
}

}  // namespace
}  // namespace fedtrain
