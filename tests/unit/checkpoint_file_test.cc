// Checkpoint files: round trip, and every kind of damage detected with the file and the part named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/core/error.h"
#include "runtime/io/hdf5_file.h"
#include "runtime/model/mlp.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

// A checkpoint of a small MLP with every part present: AdamW's two inner
// buffers, outer momentum, three ranks' loader positions.
Checkpoint sample_checkpoint() {
  Mlp model(12, {8}, 3);
  const size_t n = model.param_count();
  Checkpoint c;
  c.job_id = "unit-job-7f3a";
  c.round = 12;
  c.attempt = 1;
  c.config_text = "[run]\nseed = 1\n[federation]\nlocal_steps = 20\n";
  c.manifest_sha256 = "";
  c.site = "es";
  c.sites = {"es", "de"};
  c.model_layout = layout_text(model.layout());
  c.model = random_floats(n, 1);
  c.inner = {{"exp_avg", random_floats(n, 2)}, {"exp_avg_sq", random_floats(n, 3)}};
  c.inner_steps = 240;
  c.outer = {{"momentum", random_floats(n, 4)}};
  c.data = {{3, 17}, {3, 18}, {2, 0}};
  return c;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The message read_checkpoint_file throws, or "" if it reads the file.
std::string read_error(const std::string& path) {
  try {
    read_checkpoint_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class CheckpointFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("round-000012.h5");
    write_checkpoint_file(path_, sample_checkpoint());
    pristine_ = read_bytes(path_);
  }
  std::string copy(const std::string& name, const std::string& bytes) {
    std::string p = dir_.file(name);
    write_bytes(p, bytes);
    return p;
  }
  testing::TempDir dir_;
  std::string path_, pristine_;
};

TEST_F(CheckpointFileTest, ReadsBackExactlyWhatWasWritten) {
  const Checkpoint w = sample_checkpoint();
  const Checkpoint r = read_checkpoint_file(path_);
  EXPECT_EQ(r.job_id, w.job_id);
  EXPECT_EQ(r.round, 12);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.config_text, w.config_text);
  EXPECT_EQ(r.manifest_sha256, "");
  EXPECT_EQ(r.site, "es");
  EXPECT_EQ(r.sites, w.sites);
  EXPECT_EQ(r.model_layout, w.model_layout);
  EXPECT_EQ(r.model, w.model);
  ASSERT_EQ(r.inner.size(), 2u);
  EXPECT_EQ(r.inner[0].name, "exp_avg");
  EXPECT_EQ(r.inner[0].data, w.inner[0].data);
  EXPECT_EQ(r.inner[1].name, "exp_avg_sq");
  EXPECT_EQ(r.inner[1].data, w.inner[1].data);
  EXPECT_EQ(r.inner_steps, 240);
  ASSERT_EQ(r.outer.size(), 1u);
  EXPECT_EQ(r.outer[0].data, w.outer[0].data);
  ASSERT_EQ(r.data.size(), 3u);
  EXPECT_EQ(r.data[1].epoch, 3u);
  EXPECT_EQ(r.data[1].cursor, 18u);
  EXPECT_EQ(r.data[2].epoch, 2u);
}

TEST_F(CheckpointFileTest, IsPlainHdf5WithTheDocumentedLayout) {
  H5File f = H5File::open_read(path_);
  EXPECT_EQ(f.shape("/model/layers.0.weight", H5Type::kFloat32), (std::vector<size_t>{8, 12}));
  EXPECT_EQ(f.shape("/optimizer/inner/exp_avg_sq/layers.1.bias", H5Type::kFloat32), (std::vector<size_t>{3}));
  EXPECT_EQ(f.shape("/optimizer/outer/momentum/layers.1.weight", H5Type::kFloat32), (std::vector<size_t>{3, 8}));
  EXPECT_EQ(f.shape("/optimizer/inner/steps", H5Type::kInt64), (std::vector<size_t>{1}));
  EXPECT_EQ(f.shape("/data/2", H5Type::kInt64), (std::vector<size_t>{2}));
  EXPECT_EQ(f.attr_string("format"), "fedtrain-checkpoint");
  EXPECT_EQ(f.attr_int("format_version"), 1);
  EXPECT_EQ(f.attr_int("round"), 12);
  EXPECT_EQ(f.attr_string("sites"), "es,de");
  EXPECT_EQ(f.attr_string("/model/layers.0.bias", "sha256").size(), 64u);
}

TEST_F(CheckpointFileTest, LayoutTextRoundTrips) {
  Mlp model(784, {256, 128}, 10);
  const std::string text = layout_text(model.layout());
  EXPECT_EQ(text, "layers.0.weight:256x784,layers.0.bias:256,layers.1.weight:128x256,layers.1.bias:128,"
                  "layers.2.weight:10x128,layers.2.bias:10");
  EXPECT_EQ(layout_text(parse_layout_text(text, "t")), text);
  EXPECT_EQ(parse_layout_text(text, "t").count(), model.param_count());
  EXPECT_THROW(parse_layout_text("layers.0.weight:0x3", "t"), Error);
  EXPECT_THROW(parse_layout_text("nocolon", "t"), Error);
}

TEST_F(CheckpointFileTest, AFlippedByteInAnyDatasetIsFoundAndTheDatasetNamed) {
  const CheckpointListing listing = list_checkpoint_file(path_);
  ASSERT_EQ(listing.datasets.size(), 4u + 8u + 1u + 4u + 3u);  // model, 2 inner, steps, outer, 3 ranks
  for (const auto& d : listing.datasets) {
    ASSERT_GE(d.offset_bytes, 0) << d.path;
    std::string bytes = pristine_;
    bytes[static_cast<size_t>(d.offset_bytes) + 1] ^= 0x10;
    const std::string p = copy("flipped.h5", bytes);
    const std::string err = read_error(p);
    EXPECT_NE(err.find("checkpoint '" + p + "'"), std::string::npos) << err;
    EXPECT_NE(err.find("dataset '" + d.path + "' does not match its SHA-256"), std::string::npos) << err;
  }
}

TEST_F(CheckpointFileTest, AFlippedByteInAnAttributeIsFoundAndTheAttributeNamed) {
  // Both strings occur once in the file: in the values of these attributes.
  for (const auto& [needle, attribute] :
       std::vector<std::pair<std::string, std::string>>{{"local_steps = 20", "config"}, {"unit-job-7f3a", "job_id"}}) {
    const size_t at = pristine_.find(needle);
    ASSERT_NE(at, std::string::npos) << needle;
    ASSERT_EQ(pristine_.find(needle, at + 1), std::string::npos) << needle;
    std::string bytes = pristine_;
    bytes[at + needle.size() - 1] ^= 0x01;
    const std::string p = copy("attr.h5", bytes);
    const std::string err = read_error(p);
    EXPECT_NE(err.find("checkpoint '" + p + "'"), std::string::npos) << err;
    EXPECT_NE(err.find("attribute '" + attribute + "' does not match its recorded SHA-256"), std::string::npos) << err;
  }
}

TEST_F(CheckpointFileTest, TruncationAtAnyLengthIsFound) {
  for (size_t keep : {size_t{0}, size_t{100}, pristine_.size() / 3, pristine_.size() / 2, pristine_.size() - 1}) {
    const std::string p = copy("short.h5", pristine_.substr(0, keep));
    const std::string err = read_error(p);
    EXPECT_NE(err.find(p), std::string::npos) << "kept " << keep << ": " << err;
  }
}

// Edits through the HDF5 library itself: what a careless tool could do.
class CheckpointEditTest : public CheckpointFileTest {
 protected:
  hid_t open_rw() {
    hid_t f = H5Fopen(path_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    EXPECT_GE(f, 0);
    return f;
  }
};

TEST_F(CheckpointEditTest, AMissingAttributeIsFound) {
  hid_t f = open_rw();
  ASSERT_GE(H5Adelete(f, "site"), 0);
  H5Fclose(f);
  EXPECT_NE(read_error(path_).find("attribute 'site' is missing"), std::string::npos) << read_error(path_);
}

TEST_F(CheckpointEditTest, AnIntegerAttributeChangedThroughHdf5IsFound) {
  hid_t f = open_rw();
  hid_t a = H5Aopen(f, "round", H5P_DEFAULT);
  const int64_t thirteen = 13;
  ASSERT_GE(H5Awrite(a, H5T_NATIVE_INT64, &thirteen), 0);
  H5Aclose(a);
  H5Fclose(f);
  EXPECT_NE(read_error(path_).find("attribute 'round' does not match its recorded SHA-256"), std::string::npos)
      << read_error(path_);
}

TEST_F(CheckpointEditTest, ARemovedDatasetIsFound) {
  hid_t f = open_rw();
  ASSERT_GE(H5Ldelete(f, "/data/1", H5P_DEFAULT), 0);
  H5Fclose(f);
  EXPECT_NE(read_error(path_).find("header_sha256"), std::string::npos) << read_error(path_);
}

TEST_F(CheckpointEditTest, AnAddedDatasetIsFound) {
  H5File::open_read(path_);  // quiets HDF5's own error printing
  hid_t f = open_rw();
  const hsize_t dims[1] = {2};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t ds = H5Dcreate2(f, "/model/extra", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
  const std::string err = read_error(path_);
  EXPECT_NE(err.find("'/model/extra'"), std::string::npos) << err;
}

TEST_F(CheckpointEditTest, ADatasetWithAReplacedHashIsFound) {
  // Data and its hash changed together: the header hash still catches it.
  Checkpoint c = sample_checkpoint();
  c.model[0] += 1.0f;
  write_checkpoint_file(dir_.file("other.h5"), c);
  H5File other = H5File::open_read(dir_.file("other.h5"));
  const std::string forged = other.attr_string("/model/layers.0.weight", "sha256");
  std::vector<float> w(8 * 12);
  other.read_all("/model/layers.0.weight", H5Type::kFloat32, w.size(), w.data());
  hid_t f = open_rw();
  hid_t ds = H5Dopen2(f, "/model/layers.0.weight", H5P_DEFAULT);
  ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.data()), 0);
  hid_t a = H5Aopen(ds, "sha256", H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  ASSERT_GE(H5Awrite(a, t, forged.data()), 0);
  H5Tclose(t);
  H5Aclose(a);
  H5Dclose(ds);
  H5Fclose(f);
  EXPECT_NE(read_error(path_).find("header_sha256"), std::string::npos) << read_error(path_);
}

TEST_F(CheckpointFileTest, AFileThatIsNotACheckpointIsNamedSo) {
  Dataset d = testing::make_blobs(10, 4, 2, 1);
  write_dataset_file(dir_.file("data.h5"), d, 2, {});
  EXPECT_NE(read_error(dir_.file("data.h5")).find("not a fedtrain checkpoint"), std::string::npos);
}

TEST(Hdf5LockingHint, OnlyForLockingFailures) {
  EXPECT_NE(h5_locking_hint("unable to lock file, errno = 37, error message = 'No locks available'")
                .find("HDF5_USE_FILE_LOCKING=FALSE"),
            std::string::npos);
  EXPECT_EQ(h5_locking_hint("truncated file: eof = 300000, sblock->base_addr = 0, stored_eof = 625392"), "");
}

}  // namespace
}  // namespace fedtrain
