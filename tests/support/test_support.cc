// Helpers shared by the tests.
#include "tests/support/test_support.h"

#include "runtime/crypto/x25519.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

namespace fedtrain::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedtrain-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_site_keys(const std::string& dir, const std::vector<std::string>& sites) {
  for (const auto& site : sites) {
    SecretKey key = SecretKey::generate();
    key.save(dir + "/" + site + ".key");
    const PublicKey pub = key.public_key();
    std::ofstream(dir + "/" + site + ".pub") << to_base64(pub.data(), pub.size()) << "\n";
  }
}

Dataset make_blobs(size_t rows, size_t features, int classes, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> noise(0.0f, 0.3f);
  Dataset d;
  d.rows = rows;
  d.features = features;
  d.x.resize(rows * features);
  d.y.resize(rows);
  const size_t block = features / classes;
  for (size_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(gen() % classes);
    d.y[i] = c;
    for (size_t j = 0; j < features; ++j) {
      float v = noise(gen);
      if (block > 0 && j / block == static_cast<size_t>(c)) v += 0.7f;
      d.x[i * features + j] = v;
    }
  }
  return d;
}

}  // namespace fedtrain::testing
