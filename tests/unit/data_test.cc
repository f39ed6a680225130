// IDX reading, partitions, HDF5 dataset files and the per-rank loader.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "runtime/core/error.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/idx_reader.h"
#include "runtime/data/partition.h"
#include "runtime/data/shard_loader.h"
#include "runtime/io/hdf5_file.h"
#include "tests/support/test_support.h"

namespace fedtrain {
namespace {

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

void put_u32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Idx, ReadsImagesAndLabels) {
  testing::TempDir dir;
  std::vector<uint8_t> img;
  put_u32(img, 2051), put_u32(img, 3), put_u32(img, 2), put_u32(img, 2);
  for (int i = 0; i < 12; ++i) img.push_back(static_cast<uint8_t>(i * 20));
  write_gz(dir.file("img.gz"), img);
  IdxImages r = read_idx_images(dir.file("img.gz"));
  EXPECT_EQ(r.count, 3u);
  EXPECT_EQ(r.rows * r.cols, 4u);
  EXPECT_EQ(r.pixels[11], 220);
  std::vector<uint8_t> lab;
  put_u32(lab, 2049), put_u32(lab, 3);
  lab.insert(lab.end(), {7, 0, 9});
  write_gz(dir.file("lab.gz"), lab);
  EXPECT_EQ(read_idx_labels(dir.file("lab.gz")), (std::vector<uint8_t>{7, 0, 9}));
}

TEST(Idx, TruncatedWrongMagicAndMissingAreNamedErrors) {
  testing::TempDir dir;
  std::vector<uint8_t> img;
  put_u32(img, 2051), put_u32(img, 3), put_u32(img, 2), put_u32(img, 2);
  img.resize(img.size() + 5);  // 5 of 12 pixel bytes
  write_gz(dir.file("short.gz"), img);
  std::string e = error_of([&] { read_idx_images(dir.file("short.gz")); });
  EXPECT_NE(e.find("short.gz' is truncated"), std::string::npos) << e;
  e = error_of([&] { read_idx_labels(dir.file("short.gz")); });
  EXPECT_NE(e.find("not a label file"), std::string::npos) << e;
  e = error_of([&] { read_idx_images(dir.file("nope.gz")); });
  EXPECT_NE(e.find("nope.gz"), std::string::npos) << e;
}

TEST(Partition, IidCoversEveryIndexOnceInEqualShares) {
  auto parts = partition_iid(1001, 3, 9);
  std::set<size_t> seen;
  for (const auto& p : parts) {
    EXPECT_NEAR(static_cast<double>(p.size()), 1001.0 / 3, 1.0);
    for (size_t i : p) EXPECT_TRUE(seen.insert(i).second);
  }
  EXPECT_EQ(seen.size(), 1001u);
  EXPECT_EQ(parts, partition_iid(1001, 3, 9));
  EXPECT_NE(parts, partition_iid(1001, 3, 10));
}

TEST(Partition, DirichletCoversEveryIndexOnceAndSkewsLabels) {
  std::vector<uint8_t> labels(5000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
  auto parts = partition_dirichlet(labels, 10, 4, 0.1, 3, 16);
  std::set<size_t> seen;
  double max_share = 0;
  for (const auto& p : parts) {
    EXPECT_GE(p.size(), 16u);
    std::vector<int> h(10, 0);
    for (size_t i : p) {
      EXPECT_TRUE(seen.insert(i).second);
      ++h[labels[i]];
    }
    max_share = std::max(max_share, double(*std::max_element(h.begin(), h.end())) / p.size());
  }
  EXPECT_EQ(seen.size(), labels.size());
  EXPECT_GT(max_share, 0.3);  // IID would give every class about 0.1 of a site
  EXPECT_THROW(partition_dirichlet(labels, 10, 400, 0.01, 3, 16), Error);
}

TEST(DatasetFile, RoundTripAndShapeErrors) {
  testing::TempDir dir;
  Dataset d = testing::make_blobs(50, 12, 3, 1);
  write_dataset_file(dir.file("d.h5"), d, 3, {{"site", "es"}});
  EXPECT_FALSE(std::filesystem::exists(dir.file("d.h5.tmp")));
  DatasetInfo info = inspect_dataset(dir.file("d.h5"));
  EXPECT_EQ(info.rows, 50u);
  EXPECT_EQ(info.features, 12u);
  EXPECT_EQ(info.classes, 3);
  Dataset back = read_dataset_rows(dir.file("d.h5"), 10, 5, 3);
  EXPECT_EQ(back.y, std::vector<int32_t>(d.y.begin() + 10, d.y.begin() + 15));
  EXPECT_EQ(back.x, std::vector<float>(d.x.begin() + 120, d.x.begin() + 180));

  {  // labels of the wrong length
    H5File f = H5File::create(dir.file("bad.h5"));
    f.write("/features", H5Type::kFloat32, {50, 12}, d.x.data());
    f.write("/labels", H5Type::kInt32, {49}, d.y.data());
  }
  std::string e = error_of([&] { inspect_dataset(dir.file("bad.h5")); });
  EXPECT_NE(e.find("bad.h5"), std::string::npos) << e;
  EXPECT_NE(e.find("/labels"), std::string::npos) << e;
  {  // features as int32
    H5File f = H5File::create(dir.file("int.h5"));
    f.write("/features", H5Type::kInt32, {50}, d.y.data());
  }
  e = error_of([&] { inspect_dataset(dir.file("int.h5")); });
  EXPECT_NE(e.find("'/features' must hold float32"), std::string::npos) << e;
  e = error_of([&] { inspect_dataset(dir.file("none.h5")); });
  EXPECT_NE(e.find("none.h5"), std::string::npos) << e;
  std::ofstream(dir.file("text.h5")) << "not hdf5";
  e = error_of([&] { inspect_dataset(dir.file("text.h5")); });
  EXPECT_NE(e.find("text.h5"), std::string::npos) << e;
}

TEST(ShardLoader, PartsCoverTheShardAndEpochsReshuffleDeterministically) {
  testing::TempDir dir;
  Dataset d = testing::make_blobs(10, 2, 2, 1);
  for (size_t i = 0; i < d.rows; ++i) d.x[i * 2] = static_cast<float>(i);  // row id in feature 0
  write_dataset_file(dir.file("d.h5"), d, 2, {});
  DatasetInfo info = inspect_dataset(dir.file("d.h5"));
  std::multiset<float> all;
  for (int part = 0; part < 3; ++part) {
    ShardLoader loader(dir.file("d.h5"), info, part, 3, 77);
    std::vector<float> x(loader.rows() * 2);
    std::vector<int32_t> y(loader.rows());
    loader.next_batch(static_cast<int>(loader.rows()), x.data(), y.data());
    for (size_t i = 0; i < loader.rows(); ++i) all.insert(x[i * 2]);
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(std::set<float>(all.begin(), all.end()).size(), 10u);

  ShardLoader a(dir.file("d.h5"), info, 0, 1, 5), b(dir.file("d.h5"), info, 0, 1, 5);
  std::vector<float> xa(30 * 2), xb(30 * 2);
  std::vector<int32_t> ya(30), yb(30);
  a.next_batch(30, xa.data(), ya.data());  // three epochs in one go
  b.next_batch(30, xb.data(), yb.data());
  EXPECT_EQ(xa, xb);
  EXPECT_EQ(a.position().epoch, 2u);
  std::vector<float> e0(xa.begin(), xa.begin() + 20), e1(xa.begin() + 20, xa.begin() + 40);
  EXPECT_NE(e0, e1);  // a new order each epoch
  EXPECT_THROW(ShardLoader(dir.file("d.h5"), info, 0, 11, 5), Error);
}

}  // namespace
}  // namespace fedtrain
