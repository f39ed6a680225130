// Hostile checkpoint files (every hash recomputed, as an attacker can): the reader names the file and what is
// wrong, ckpt inspect and the start-up scan survive them, and nothing crashes or allocates what the file lacks.
#include <gtest/gtest.h>

#include <random>
#include <typeinfo>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/checkpoint/resume_agreement.h"
#include "runtime/core/error.h"
#include "runtime/model/mlp.h"
#include "tests/support/hostile_checkpoint.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

// A small MLP's checkpoint with every part present: AdamW's two buffers, outer momentum, two ranks.
Checkpoint honest(int64_t round) {
  Mlp model(12, {8}, 3);
  const size_t n = model.param_count();
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto floats = [&] {
    std::vector<float> v(n);
    for (float& x : v) x = u(gen);
    return v;
  };
  Checkpoint c;
  c.job_id = "hostile";
  c.round = round;
  c.config_text = "[run]\njob_id = hostile\n";
  c.site = "es";
  c.sites = {"es", "de"};
  c.model_layout = layout_text(model.layout());
  c.model = floats();
  c.inner = {{"exp_avg", floats()}, {"exp_avg_sq", floats()}};
  c.inner_steps = 40;
  c.outer = {{"momentum", floats()}};
  c.data = {{1, 5}, {1, 6}};
  return c;
}

CheckpointExpectation expectation() {
  const Checkpoint c = honest(1);
  CheckpointExpectation e;
  e.job_id = c.job_id;
  e.site = c.site;
  e.sites = c.sites;
  e.model_layout = c.model_layout;
  e.inner_buffers = {"exp_avg", "exp_avg_sq"};
  e.outer_buffers = {"momentum"};
  e.site_ranks = 2;
  return e;
}

// What each hostile file must be rejected with (besides its path).
const std::map<std::string, std::vector<std::string>> kExpected = {
    {"wrapped-sum", {"model_layout", "tensor 'a'", "more than 2^34"}},
    {"wrapped-product", {"model_layout", "tensor 'a' of shape 4294967296x4294967296", "more than 2^34"}},
    {"huge", {"model_layout", "tensor 'a'", "more than 2^34"}},
    {"beyond-file", {"model_layout has 17179869184 elements", "bytes of the file"}},
    {"oversized", {"dataset '/model/layers.0.weight' has the wrong type or shape"}},
    {"round-negative", {"attribute 'round' is -5"}},
    {"round-huge", {"attribute 'round' is 9223372036854775807"}},
    {"missing", {"dataset '/optimizer/inner/steps' is missing"}},
    {"big-attribute", {"attribute 'config' is 104857600 bytes", "at most 1 MiB"}},
    {"array-attribute", {"attribute 'round' holds 1048576 values"}},
};

class HostileCheckpoint : public ::testing::Test {
 protected:
  std::string forge(const std::string& kind, const std::string& name = "round-000002.h5") {
    testing::ForgedCheckpoint f = testing::forgeable(honest(2));
    if (!kind.empty()) testing::make_hostile(f, kind);
    const std::string path = dir_.file(name);
    testing::write_forged(path, f);
    return path;
  }
  // Reads a forged file: the Error's text; a failure if it is accepted or fails any other way.
  std::string rejection(const std::string& kind) {
    const std::string path = forge(kind);
    try {
      read_checkpoint_file(path);
    } catch (const Error& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << kind << ": threw " << typeid(e).name() << " (" << e.what() << "), not an Error";
      return "";
    }
    ADD_FAILURE() << kind << ": accepted";
    return "";
  }
  void expect_rejected(const std::string& kind) {
    const std::string err = rejection(kind);
    EXPECT_NE(err.find("'" + dir_.file("round-000002.h5") + "'"), std::string::npos) << kind << ": " << err;
    for (const std::string& part : kExpected.at(kind)) EXPECT_NE(err.find(part), std::string::npos) << kind << ": " << err;
  }
  testing::TempDir dir_;
};

// The forger itself: an unedited forgery is a valid checkpoint, so the rejections below are the edits' doing.
TEST_F(HostileCheckpoint, AnUneditedForgeryReadsBackAsTheOriginal) {
  const Checkpoint w = honest(2), r = read_checkpoint_file(forge(""));
  EXPECT_EQ(r.model, w.model);
  EXPECT_EQ(r.inner[1].data, w.inner[1].data);
  EXPECT_EQ(r.outer[0].data, w.outer[0].data);
  EXPECT_EQ(r.inner_steps, 40);
  EXPECT_EQ(r.data[1].cursor, 6u);
  EXPECT_EQ(r.config_text, w.config_text);
}

TEST_F(HostileCheckpoint, EveryKindHasAnExpectation) {
  for (const std::string& kind : testing::kHostileKinds) EXPECT_TRUE(kExpected.count(kind)) << kind;
}

TEST_F(HostileCheckpoint, ALayoutWhoseCountsSumPast64BitsIsRejected) { expect_rejected("wrapped-sum"); }
TEST_F(HostileCheckpoint, ALayoutWhoseShapeMultipliesPast64BitsIsRejected) { expect_rejected("wrapped-product"); }
TEST_F(HostileCheckpoint, ALayoutOfTerabytesIsRejected) { expect_rejected("huge"); }
TEST_F(HostileCheckpoint, ALayoutLargerThanTheFileIsRejectedBeforeAllocating) { expect_rejected("beyond-file"); }
TEST_F(HostileCheckpoint, ADatasetLargerThanItsSlotIsRejected) { expect_rejected("oversized"); }
TEST_F(HostileCheckpoint, ANegativeRoundIsRejected) { expect_rejected("round-negative"); }
TEST_F(HostileCheckpoint, AHugeRoundIsRejected) { expect_rejected("round-huge"); }
TEST_F(HostileCheckpoint, AMissingDatasetIsRejected) { expect_rejected("missing"); }
TEST_F(HostileCheckpoint, AStringAttributeOf100MiBIsRejected) { expect_rejected("big-attribute"); }
TEST_F(HostileCheckpoint, AnArrayWhereOneValueBelongsIsRejected) { expect_rejected("array-attribute"); }

// fedtrain ckpt inspect checks no hashes, but must not crash either: it lists the file or throws an Error.
TEST_F(HostileCheckpoint, InspectListsOrRejectsEveryKind) {
  for (const std::string& kind : testing::kHostileKinds) {
    const std::string path = forge(kind);
    try {
      list_checkpoint_file(path);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << kind << ": " << e.what();
    }
  }
}

// The leaders' start-up scan: every hostile file counts as damaged, the honest older round stays usable.
TEST_F(HostileCheckpoint, TheStartUpScanSkipsEachKindForTheOlderRound) {
  CheckpointStore store(dir_.path());
  store.write(honest(1));
  for (const std::string& kind : testing::kHostileKinds) {
    forge(kind, "round-000002.h5");
    const SiteScan scan = scan_checkpoints(store, expectation());
    EXPECT_EQ(scan.intact, (std::vector<int64_t>{1})) << kind;
    EXPECT_EQ(scan.damaged, 1) << kind;
    EXPECT_TRUE(scan.error.empty()) << kind << ": " << scan.error;
  }
}

TEST(HostileLayout, CountsThatWrapOrExceedTheCapAreErrors) {
  ParamLayout wraps;
  EXPECT_THROW(wraps.add("a", {size_t{1} << 32, size_t{1} << 32}), Error);  // 2^64: 0 in 64 bits
  EXPECT_TRUE(wraps.tensors().empty());
  ParamLayout sum;
  sum.add("a", {kMaxLayoutCount});
  EXPECT_THROW(sum.add("b", {1}), Error);
  EXPECT_EQ(sum.count(), kMaxLayoutCount);
  EXPECT_EQ(sum.tensors().size(), 1u);
  try {
    parse_layout_text("a:3,b:18446744073709551615", "checkpoint 'x.h5'");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint 'x.h5': model_layout: tensor 'b'"), std::string::npos) << e.what();
  }
}

TEST(HostileLayout, RepeatedOrPathLikeNamesAreErrors) {
  EXPECT_THROW(parse_layout_text("a:2,a:3", "t"), Error);  // once an abort (FT_CHECK) in ParamLayout::add
  EXPECT_THROW(parse_layout_text("a/b:2", "t"), Error);
  EXPECT_THROW(parse_layout_text("a:2,,b:3", "t"), Error);
}

}  // namespace
}  // namespace fedtrain
