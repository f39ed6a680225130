// Site identity: X25519 key pairs, their files, and the shared secret of two sites (OpenSSL EVP).
//
// Files: the secret key is PKCS#8 PEM ("openssl pkey -in es.key" reads it),
// mode 0600; the public key is one line of base64 of the raw 32 bytes, the
// form the federation manifest (the run config) lists.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/crypto/secret_bytes.h"

namespace fedtrain {

using PublicKey = std::array<uint8_t, 32>;
using SharedSecret = SecretBytes<32>;  // wiped when it ends

class SecretKey {
 public:
  static SecretKey generate();
  // Reads a PEM file; throws ConfigError naming `site` and the file when it is
  // missing, unreadable, not a regular file, owned by another user than the
  // one running fedtrain (or root), open to group or others, or not an X25519
  // key. The checks apply to the file opened, at the end of any symlinks.
  static SecretKey load(const std::string& path, const std::string& site);
  void save(const std::string& path) const;  // created with mode 0600; refuses to overwrite

  PublicKey public_key() const;
  // X25519(this, peer); throws Error for a low-order peer key (all-zero secret).
  SharedSecret agree(const PublicKey& peer) const;

  struct Deleter {
    void operator()(void* p) const;
  };

 private:
  std::unique_ptr<void, Deleter> pkey_;  // EVP_PKEY*
};

std::string to_base64(const uint8_t* data, size_t bytes);
// Throws ConfigError naming `what` unless `text` is base64 of exactly 32 bytes.
PublicKey public_key_from_base64(const std::string& text, const std::string& what);

}  // namespace fedtrain
