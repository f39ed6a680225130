// AES-256-GCM sealing and the AES-256-CTR keystream, over OpenSSL EVP.
#include "runtime/crypto/aes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/crypto/openssl_check.h"

namespace fedtrain {
namespace {

EVP_CIPHER_CTX* ctx(void* p) { return static_cast<EVP_CIPHER_CTX*>(p); }

// EVP takes int lengths: long buffers go in pieces.
constexpr size_t kPiece = size_t{1} << 30;

}  // namespace

Aes256Gcm::Aes256Gcm(const Key256& key) : enc_(EVP_CIPHER_CTX_new()), dec_(EVP_CIPHER_CTX_new()) {
  FT_CHECK(enc_ != nullptr && dec_ != nullptr, "EVP_CIPHER_CTX_new");
  OSSL_CHECK(EVP_EncryptInit_ex(ctx(enc_), EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  OSSL_CHECK(EVP_CIPHER_CTX_ctrl(ctx(enc_), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceBytes, nullptr));
  OSSL_CHECK(EVP_EncryptInit_ex(ctx(enc_), nullptr, nullptr, key.data(), nullptr));
  OSSL_CHECK(EVP_DecryptInit_ex(ctx(dec_), EVP_aes_256_gcm(), nullptr, nullptr, nullptr));
  OSSL_CHECK(EVP_CIPHER_CTX_ctrl(ctx(dec_), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceBytes, nullptr));
  OSSL_CHECK(EVP_DecryptInit_ex(ctx(dec_), nullptr, nullptr, key.data(), nullptr));
}

Aes256Gcm::~Aes256Gcm() {
  EVP_CIPHER_CTX_free(ctx(enc_));
  EVP_CIPHER_CTX_free(ctx(dec_));
}

void Aes256Gcm::seal(const GcmNonce& nonce, const uint8_t* aad, size_t aad_bytes, const uint8_t* in, size_t bytes,
                     uint8_t* out, GcmTag& tag) {
  int len = 0;
  OSSL_CHECK(EVP_EncryptInit_ex(ctx(enc_), nullptr, nullptr, nullptr, nonce.data()));
  FT_CHECK(aad_bytes <= INT_MAX);
  OSSL_CHECK(EVP_EncryptUpdate(ctx(enc_), nullptr, &len, aad, static_cast<int>(aad_bytes)));
  for (size_t off = 0; off < bytes; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    OSSL_CHECK(EVP_EncryptUpdate(ctx(enc_), out + off, &len, in + off, n));
  }
  OSSL_CHECK(EVP_EncryptFinal_ex(ctx(enc_), out + bytes, &len));
  OSSL_CHECK(EVP_CIPHER_CTX_ctrl(ctx(enc_), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, tag.data()));
}

bool Aes256Gcm::open(const GcmNonce& nonce, const uint8_t* aad, size_t aad_bytes, const uint8_t* in, size_t bytes,
                     uint8_t* out, const GcmTag& tag) {
  int len = 0;
  OSSL_CHECK(EVP_DecryptInit_ex(ctx(dec_), nullptr, nullptr, nullptr, nonce.data()));
  FT_CHECK(aad_bytes <= INT_MAX);
  OSSL_CHECK(EVP_DecryptUpdate(ctx(dec_), nullptr, &len, aad, static_cast<int>(aad_bytes)));
  for (size_t off = 0; off < bytes; off += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    OSSL_CHECK(EVP_DecryptUpdate(ctx(dec_), out + off, &len, in + off, n));
  }
  OSSL_CHECK(EVP_CIPHER_CTX_ctrl(ctx(dec_), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, const_cast<uint8_t*>(tag.data())));
  // The one EVP call whose failure is an expected outcome: a tag that does not
  // verify. EVP has written the unauthenticated plaintext by then: wipe it.
  if (EVP_DecryptFinal_ex(ctx(dec_), out + bytes, &len) == 1) return true;
  OPENSSL_cleanse(out, bytes);
  return false;
}

Aes256Ctr::Aes256Ctr(const Key256& key) : ctx_(EVP_CIPHER_CTX_new()) {
  FT_CHECK(ctx_ != nullptr, "EVP_CIPHER_CTX_new");
  const uint8_t iv[16] = {0};
  OSSL_CHECK(EVP_EncryptInit_ex(ctx(ctx_), EVP_aes_256_ctr(), nullptr, key.data(), iv));
}

Aes256Ctr::~Aes256Ctr() { EVP_CIPHER_CTX_free(ctx(ctx_)); }

void Aes256Ctr::next(uint8_t* out, size_t bytes) {
  std::memset(out, 0, bytes);
  for (size_t off = 0; off < bytes; off += kPiece) {
    int len = 0;
    const int n = static_cast<int>(std::min(kPiece, bytes - off));
    OSSL_CHECK(EVP_EncryptUpdate(ctx(ctx_), out + off, &len, out + off, n));
  }
}

void Aes256Ctr::seek(uint64_t offset) {
  // The counter block of byte `offset`: big-endian block number in the IV's last 8 bytes.
  uint8_t iv[16] = {0};
  const uint64_t block = offset / 16;
  for (int i = 0; i < 8; ++i) iv[15 - i] = static_cast<uint8_t>(block >> (8 * i));
  OSSL_CHECK(EVP_EncryptInit_ex(ctx(ctx_), nullptr, nullptr, nullptr, iv));
  uint8_t skip[16];
  if (offset % 16 != 0) next(skip, offset % 16);
}

}  // namespace fedtrain
