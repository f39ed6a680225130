// Key schedule of secure aggregation (OpenSSL 3 EVP_KDF HKDF).
#include "runtime/crypto/key_schedule.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <memory>

#include "runtime/core/check.h"
#include "runtime/crypto/openssl_check.h"

namespace fedtrain {
namespace {

Key256 hkdf(int mode, const uint8_t* key, size_t key_bytes, const uint8_t* salt, size_t salt_bytes,
            const std::string& info) {
  std::unique_ptr<EVP_KDF, void (*)(EVP_KDF*)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  if (!kdf) detail::openssl_failed("EVP_KDF_fetch(HKDF)", __FILE__, __LINE__);
  std::unique_ptr<EVP_KDF_CTX, void (*)(EVP_KDF_CTX*)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  if (!ctx) detail::openssl_failed("EVP_KDF_CTX_new", __FILE__, __LINE__);
  char digest[] = "SHA256";
  OSSL_PARAM params[6];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key), key_bytes);
  if (salt_bytes > 0)
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt), salt_bytes);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  Key256 out{};
  OSSL_CHECK(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params));
  return out;
}

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

Key256 hkdf_sha256(const uint8_t* ikm, size_t ikm_bytes, const uint8_t* salt, size_t salt_bytes,
                   const std::string& info) {
  return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, ikm_bytes, salt, salt_bytes, info);
}

Key256 hkdf_expand_sha256(const Key256& prk, const std::string& info) {
  return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk.data(), prk.size(), nullptr, 0, info);
}

KeySchedule::KeySchedule(const Manifest& manifest, int self, const SecretKey& secret, std::string job_id)
    : self_(self), job_id_(std::move(job_id)), root_(manifest.size()) {
  FT_CHECK(self >= 0 && static_cast<size_t>(self) < manifest.size());
  for (size_t peer = 0; peer < manifest.size(); ++peer) {
    if (static_cast<int>(peer) == self) continue;
    const SharedSecret shared = secret.agree(manifest.entry(peer).public_key);
    const size_t lo = std::min<size_t>(self, peer), hi = std::max<size_t>(self, peer);
    std::string info = "fedtrain pair v1";
    info.append(reinterpret_cast<const char*>(manifest.entry(lo).public_key.data()), 32);
    info.append(reinterpret_cast<const char*>(manifest.entry(hi).public_key.data()), 32);
    root_[peer] = hkdf_sha256(shared.data(), shared.size(), manifest.hash().data(), manifest.hash().size(), info);
  }
}

Key256 KeySchedule::derive(int peer, KeyPurpose purpose, int from, int to, uint64_t round, uint64_t attempt) const {
  FT_CHECK(peer != self_ && peer >= 0 && static_cast<size_t>(peer) < root_.size());
  std::string info = "fedtrain key v1";
  put_u64(info, job_id_.size());
  info += job_id_;
  info.append(reinterpret_cast<const char*>(session_.data()), session_.size());
  put_u64(info, round);
  put_u64(info, attempt);
  info.push_back(static_cast<char>(purpose));
  put_u64(info, static_cast<uint64_t>(from));
  put_u64(info, static_cast<uint64_t>(to));
  return hkdf_expand_sha256(root_[peer], info);
}

Key256 KeySchedule::mask_key(int peer, uint64_t round, uint64_t attempt) const {
  return derive(peer, KeyPurpose::kMask, std::min(self_, peer), std::max(self_, peer), round, attempt);
}

Key256 KeySchedule::channel_key(int from, int to, uint64_t round, uint64_t attempt) const {
  FT_CHECK(from == self_ || to == self_);
  return derive(from == self_ ? to : from, KeyPurpose::kChannel, from, to, round, attempt);
}

}  // namespace fedtrain
