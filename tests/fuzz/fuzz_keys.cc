// The fixed test keys of the fuzz targets, as PKCS#8 PEM (made once with `openssl genpkey`).
#include "tests/fuzz/fuzz_keys.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/fuzz/fuzz_support.h"

namespace fedtrain::fuzz {
namespace {

constexpr const char* kX25519Pem[2] = {
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIECzFGSSd1qu2RSqxYWNnALY00rhYLq2BQuPh6+gVPV5\n-----END PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEILA2k3t9/NHgoZc06TAK6ueCMqBmXqiyHqSKzjgMHaNn\n-----END PRIVATE KEY-----\n",
};
constexpr const char* kEd25519Pem[2] = {
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOOuB1Z54owzFVy0dJM/abYUzOqLoSAhG4P0r2y+IuTc\n-----END PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGpKTLgmSYXwIWuq3LMAHPCX8U7QCFaQcIhV47xx0IZ+\n-----END PRIVATE KEY-----\n",
};

// A new 0600 file holding `pem` in a private folder (removed at exit).
std::string pem_file(const char* pem) {
  static const std::string dir = temp_dir("fedtrain-fuzz-keys");
  static int n = 0;
  const std::string path = dir + "/key-" + std::to_string(n++) + ".pem";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const size_t len = std::strlen(pem);
  if (fd < 0 || ::write(fd, pem, len) != static_cast<ssize_t>(len) || ::close(fd) != 0) {
    std::fprintf(stderr, "fuzz: cannot write the key file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace

SecretKey x25519_key(int site) { return SecretKey::load(pem_file(kX25519Pem[site]), kSites[site]); }

SigningKey signing_key(int site) { return SigningKey::load(pem_file(kEd25519Pem[site]), kSites[site]); }

SigningManifest signing_manifest() {
  SigningManifest m;
  for (int i = 0; i < 2; ++i) {
    m.sites.push_back(kSites[i]);
    m.keys.push_back(signing_key(i).public_key());
  }
  m.hash = signing_manifest_hash(m.sites, m.keys);
  return m;
}

Manifest manifest() {
  std::vector<ManifestEntry> entries;
  for (int i = 0; i < 2; ++i) entries.push_back({kSites[i], x25519_key(i).public_key()});
  return Manifest(std::move(entries));
}

net::Hello hello(int site) {
  static const Manifest m = manifest();
  net::Hello h;
  h.site = kSites[site];
  h.nonce.fill(static_cast<uint8_t>(0x11 * (site + 1)));
  h.manifest_hash = m.hash();
  h.settings_hash = sha256("fuzz settings", 13);
  return h;
}

}  // namespace fedtrain::fuzz
