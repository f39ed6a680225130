// AES-256-GCM sealing and the AES-256-CTR keystream, over OpenSSL EVP (AES-NI where the CPU has it).
//
// Both keep their EVP context for the life of the key, so a message costs one
// IV reset instead of a key schedule. The key schedule lives only in that
// context (the Key256 given is not kept), and EVP_CIPHER_CTX_free wipes it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/crypto/key_schedule.h"

namespace fedtrain {

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;
using GcmNonce = std::array<uint8_t, kGcmNonceBytes>;
using GcmTag = std::array<uint8_t, kGcmTagBytes>;

class Aes256Gcm {
 public:
  explicit Aes256Gcm(const Key256& key);
  ~Aes256Gcm();
  Aes256Gcm(const Aes256Gcm&) = delete;
  Aes256Gcm& operator=(const Aes256Gcm&) = delete;

  // out (bytes) = encrypt(in); in and out may be the same buffer.
  void seal(const GcmNonce& nonce, const uint8_t* aad, size_t aad_bytes, const uint8_t* in, size_t bytes,
            uint8_t* out, GcmTag& tag);
  // Returns false when the tag does not verify; `out` (bytes) is then all
  // zeros, so no unauthenticated plaintext is left for a caller to use.
  [[nodiscard]] bool open(const GcmNonce& nonce, const uint8_t* aad, size_t aad_bytes, const uint8_t* in,
                          size_t bytes, uint8_t* out, const GcmTag& tag);

 private:
  void* enc_;  // EVP_CIPHER_CTX*
  void* dec_;
};

// The keystream of AES-256-CTR under `key` from counter block 0, consumed in order.
class Aes256Ctr {
 public:
  explicit Aes256Ctr(const Key256& key);
  ~Aes256Ctr();
  Aes256Ctr(const Aes256Ctr&) = delete;
  Aes256Ctr& operator=(const Aes256Ctr&) = delete;
  // The next `bytes` of the keystream.
  void next(uint8_t* out, size_t bytes);
  // Continue the keystream from its byte `offset` (any byte, not only a block's first).
  void seek(uint64_t offset);

 private:
  void* ctx_;  // EVP_CIPHER_CTX*
};

}  // namespace fedtrain
