// Site identity: X25519 key pairs and their files.
#include "runtime/crypto/x25519.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/core/error.h"
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
  const std::string where = "site '" + site + "': secret key file '" + path + "'";
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    throw ConfigError(where + " cannot be read: " + std::strerror(errno) +
                      "; create it with 'fedtrain keygen --site " + site + " --out DIR'");
  if (!S_ISREG(st.st_mode)) throw ConfigError(where + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    throw ConfigError(where + " has mode " + mode +
                      ", readable by group or others; a secret key must be private: chmod 600 '" + path + "'");
  }
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw ConfigError(where + " cannot be opened: " + std::strerror(errno));
  EVP_PKEY* p = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (p == nullptr || EVP_PKEY_get_base_id(p) != EVP_PKEY_X25519) {
    EVP_PKEY_free(p);
    throw ConfigError(where + " does not hold an X25519 private key (PEM); create one with 'fedtrain keygen'");
  }
  SecretKey k;
  k.pkey_.reset(p);
  return k;
}

void SecretKey::save(const std::string& path) const {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw Error("cannot create secret key file '" + path + "': " + std::strerror(errno));
  std::FILE* f = fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    throw Error("cannot write secret key file '" + path + "'");
  }
  const bool ok = PEM_write_PrivateKey(f, raw(pkey_), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  const bool closed = std::fflush(f) == 0 && fsync(fd) == 0;
  std::fclose(f);
  if (!ok || !closed) {
    ::unlink(path.c_str());
    throw Error("cannot write secret key file '" + path + "'");
  }
}

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
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  std::vector<unsigned char> buf(t.size() + 3);
  const int n = t.size() == 44 && t[43] == '=' && t[42] != '='
                    ? EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(t.data()), 44)
                    : -1;
  // 32 bytes encode to 44 characters with one '=' of padding; DecodeBlock returns 33 then.
  if (n != 33) throw ConfigError(what + " is not a base64 X25519 public key (44 characters, as 'fedtrain keygen' writes)");
  PublicKey pub{};
  std::memcpy(pub.data(), buf.data(), pub.size());
  return pub;
}

}  // namespace fedtrain
