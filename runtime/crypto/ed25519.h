// Site signing keys: Ed25519 key pairs, their files, signatures and their check (OpenSSL EVP).
//
// The signing key is a site's second identity, beside its X25519 key: the
// X25519 key makes the pairwise secrets of secure aggregation, the Ed25519 key
// signs the site's word that a round happened as its ledger record says
// (runtime/ledger/). Files as for X25519 (x25519.h): the secret key is PKCS#8
// PEM, mode 0600 ("openssl pkey -in es.sign.key" reads it); the public key is
// one line of base64 of the raw 32 bytes, the form the manifest lists.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace fedtrain {

using SigningPublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

class SigningKey {
 public:
  static SigningKey generate();
  // Reads a PEM file with the checks of a secret key file (key_file.h);
  // throws ConfigError naming `site` and the file.
  static SigningKey load(const std::string& path, const std::string& site);
  void save(const std::string& path) const;  // created with mode 0600; refuses to overwrite

  SigningPublicKey public_key() const;
  // Ed25519 (pure, RFC 8032) over `message`.
  Signature sign(std::span<const uint8_t> message) const;

  struct Deleter {
    void operator()(void* p) const;
  };

 private:
  std::unique_ptr<void, Deleter> pkey_;  // EVP_PKEY*
};

// Whether `signature` is `key`'s Ed25519 signature of `message`. False also
// for a key that is not a valid point; never throws for hostile input.
bool verify_signature(const SigningPublicKey& key, std::span<const uint8_t> message, const Signature& signature);

// Throws ConfigError naming `what` unless `text` is base64 of exactly 32 bytes.
SigningPublicKey signing_key_from_base64(const std::string& text, const std::string& what);

}  // namespace fedtrain
