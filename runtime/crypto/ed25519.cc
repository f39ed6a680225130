// Site signing keys: Ed25519 over OpenSSL EVP.
#include "runtime/crypto/ed25519.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "runtime/core/error.h"
#include "runtime/crypto/key_file.h"
#include "runtime/crypto/openssl_check.h"

namespace fedtrain {
namespace {

EVP_PKEY* raw(const std::unique_ptr<void, SigningKey::Deleter>& p) { return static_cast<EVP_PKEY*>(p.get()); }

using MdCtx = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

MdCtx new_md_ctx() {
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx) detail::openssl_failed("EVP_MD_CTX_new", __FILE__, __LINE__);
  return ctx;
}

}  // namespace

void SigningKey::Deleter::operator()(void* p) const { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }

SigningKey SigningKey::generate() {
  SigningKey k;
  EVP_PKEY* p = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (p == nullptr) detail::openssl_failed("EVP_PKEY_Q_keygen(ED25519)", __FILE__, __LINE__);
  k.pkey_.reset(p);
  return k;
}

SigningKey SigningKey::load(const std::string& path, const std::string& site) {
  SigningKey k;
  k.pkey_.reset(read_secret_key_file(path, site, {"signing_secret_key", "Ed25519", EVP_PKEY_ED25519}));
  return k;
}

void SigningKey::save(const std::string& path) const { write_secret_key_file(path, raw(pkey_)); }

SigningPublicKey SigningKey::public_key() const {
  SigningPublicKey pub{};
  size_t len = pub.size();
  OSSL_CHECK(EVP_PKEY_get_raw_public_key(raw(pkey_), pub.data(), &len));
  if (len != pub.size()) throw Error("Ed25519 public key has " + std::to_string(len) + " bytes");
  return pub;
}

Signature SigningKey::sign(std::span<const uint8_t> message) const {
  MdCtx ctx = new_md_ctx();
  // Ed25519 hashes the message itself: no digest is named (NULL), and it signs in one shot.
  OSSL_CHECK(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, raw(pkey_)));
  Signature sig{};
  size_t len = sig.size();
  OSSL_CHECK(EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()));
  if (len != sig.size()) throw Error("Ed25519 signature has " + std::to_string(len) + " bytes");
  return sig;
}

bool verify_signature(const SigningPublicKey& key, std::span<const uint8_t> message, const Signature& signature) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()), EVP_PKEY_free);
  if (!pkey) {
    ERR_clear_error();
    return false;
  }
  MdCtx ctx = new_md_ctx();
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  // 1: valid; 0: not this key's signature of this message; < 0: malformed (also a "no").
  const int ok = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  ERR_clear_error();
  return ok == 1;
}

SigningPublicKey signing_key_from_base64(const std::string& text, const std::string& what) {
  SigningPublicKey pub{};
  if (!raw_from_base64(text, pub.data(), pub.size()))
    throw ConfigError(what + " is not a base64 Ed25519 public key (44 characters, as 'fedtrain keygen' writes NAME.sign.pub)");
  return pub;
}

}  // namespace fedtrain
