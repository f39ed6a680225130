// Site identity: X25519 key pairs and their files.
#include "runtime/crypto/x25519.h"

#include <openssl/evp.h>

#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/key_file.h"
#include "runtime/crypto/openssl_check.h"

namespace fedtrain {
namespace {

EVP_PKEY* raw(const std::unique_ptr<void, SecretKey::Deleter>& p) { return static_cast<EVP_PKEY*>(p.get()); }

}  // namespace

void SecretKey::Deleter::operator()(void* p) const { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); }

SecretKey SecretKey::generate() {
  SecretKey k;
  EVP_PKEY* p = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  if (p == nullptr) detail::openssl_failed("EVP_PKEY_Q_keygen(X25519)", __FILE__, __LINE__);
  k.pkey_.reset(p);
  return k;
}

SecretKey SecretKey::load(const std::string& path, const std::string& site) {
  SecretKey k;
  k.pkey_.reset(read_secret_key_file(path, site, {"secret_key", "X25519", EVP_PKEY_X25519}));
  return k;
}

void SecretKey::save(const std::string& path) const { write_secret_key_file(path, raw(pkey_)); }

PublicKey SecretKey::public_key() const {
  PublicKey pub{};
  size_t len = pub.size();
  OSSL_CHECK(EVP_PKEY_get_raw_public_key(raw(pkey_), pub.data(), &len));
  if (len != pub.size()) throw Error("X25519 public key has " + std::to_string(len) + " bytes");
  return pub;
}

SharedSecret SecretKey::agree(const PublicKey& peer) const {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> peer_key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()), EVP_PKEY_free);
  if (!peer_key) detail::openssl_failed("EVP_PKEY_new_raw_public_key", __FILE__, __LINE__);
  std::unique_ptr<EVP_PKEY_CTX, void (*)(EVP_PKEY_CTX*)> ctx(EVP_PKEY_CTX_new(raw(pkey_), nullptr), EVP_PKEY_CTX_free);
  if (!ctx) detail::openssl_failed("EVP_PKEY_CTX_new", __FILE__, __LINE__);
  OSSL_CHECK(EVP_PKEY_derive_init(ctx.get()));
  OSSL_CHECK(EVP_PKEY_derive_set_peer(ctx.get(), peer_key.get()));
  SharedSecret s{};
  size_t len = s.size();
  // OpenSSL refuses an all-zero result (a low-order peer point) here.
  OSSL_CHECK(EVP_PKEY_derive(ctx.get(), s.data(), &len));
  if (len != s.size()) throw Error("X25519 shared secret has " + std::to_string(len) + " bytes");
  return s;
}

std::string to_base64(const uint8_t* data, size_t bytes) {
  std::string out(4 * ((bytes + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(bytes));
  out.resize(n);
  return out;
}

PublicKey public_key_from_base64(const std::string& text, const std::string& what) {
  PublicKey pub{};
  if (!raw_from_base64(text, pub.data(), pub.size()))
    throw ConfigError(what + " is not a base64 X25519 public key (44 characters, as 'fedtrain keygen' writes)");
  return pub;
}

}  // namespace fedtrain
