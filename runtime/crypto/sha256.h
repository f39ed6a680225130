// SHA-256 over OpenSSL EVP, for parameter hashes, checkpoint integrity and the egress log.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace fedtrain {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t bytes);
  Sha256Digest finish();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

Sha256Digest sha256(const void* data, size_t bytes);
std::string to_hex(const uint8_t* data, size_t bytes);
inline std::string to_hex(const Sha256Digest& d) { return to_hex(d.data(), d.size()); }

}  // namespace fedtrain
