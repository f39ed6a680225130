// SHA-256 over OpenSSL EVP.
#include "runtime/crypto/sha256.h"

#include <openssl/evp.h>

#include "runtime/core/check.h"

namespace fedtrain {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  FT_CHECK(ctx_ != nullptr, "EVP_MD_CTX_new");
  FT_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, size_t bytes) {
  FT_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, bytes) == 1, "EVP_DigestUpdate");
}

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int len = 0;
  FT_CHECK(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), d.data(), &len) == 1 && len == d.size(),
           "EVP_DigestFinal_ex");
  return d;
}

Sha256Digest sha256(const void* data, size_t bytes) {
  Sha256 h;
  h.update(data, bytes);
  return h.finish();
}

std::string to_hex(const uint8_t* data, size_t bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * bytes, '0');
  for (size_t i = 0; i < bytes; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

}  // namespace fedtrain
