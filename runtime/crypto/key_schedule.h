// Key schedule of secure aggregation: from two sites' X25519 keys to per-round, per-purpose keys.
//
//   shared  = X25519(sk_self, pk_peer)
//   root    = HKDF-SHA256(ikm = shared, salt = manifest hash,
//                         info = "fedtrain pair v1" || pk_low || pk_high)      (once per peer)
//   session = SHA-256 of every leader's 32 random bytes, exchanged at start-up
//   key     = HKDF-Expand-SHA256(root, info = "fedtrain key v1" || job id || session ||
//                                round || attempt || purpose || from || to)    (32 bytes)
// low/high order the pair by site index. Purposes: the pairwise mask stream
// (one key per pair), and one sealing key per direction (from -> to).
// The session id changes at every start of the job, and the attempt id at
// every retry of a round, so no key is ever derived twice: with nonces that
// never repeat under one key (encrypted_channel.h), no (key, nonce) pair is
// used twice, across restarts too.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/crypto/manifest.h"
#include "runtime/crypto/secret_bytes.h"
#include "runtime/crypto/x25519.h"

namespace fedtrain {

using Key256 = SecretBytes<32>;  // root and derived keys: wiped when they end

enum class KeyPurpose : uint8_t { kMask = 1, kChannel = 2 };

class KeySchedule {
 public:
  // Derives the root key with every other site of the manifest.
  KeySchedule(const Manifest& manifest, int self, const SecretKey& secret, std::string job_id);

  int self() const { return self_; }
  void set_session(const Sha256Digest& session) { session_ = session; }
  const Sha256Digest& session() const { return session_; }

  // Mask key of the pair {self, peer} for a round attempt (the same on both sides).
  Key256 mask_key(int peer, uint64_t round, uint64_t attempt) const;
  // Sealing key of the direction from -> to; one of them must be self.
  Key256 channel_key(int from, int to, uint64_t round, uint64_t attempt) const;

 private:
  Key256 derive(int peer, KeyPurpose purpose, int from, int to, uint64_t round, uint64_t attempt) const;
  int self_;
  std::string job_id_;
  Sha256Digest session_{};
  std::vector<Key256> root_;  // per peer (self's entry unused)
};

// HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF; empty salt or ikm allowed.
Key256 hkdf_sha256(const uint8_t* ikm, size_t ikm_bytes, const uint8_t* salt, size_t salt_bytes,
                   const std::string& info);
Key256 hkdf_expand_sha256(const Key256& prk, const std::string& info);

}  // namespace fedtrain
