// The federation manifest: every site's name and X25519 public key, and its hash.
//
// Every leader must hold the same manifest; its SHA-256 is bound into every
// key derivation (key_schedule.h), so leaders with different manifests derive
// different keys and cannot exchange a single message.
#pragma once

#include <string>
#include <vector>

#include "runtime/crypto/sha256.h"
#include "runtime/crypto/x25519.h"

namespace fedtrain {

struct ManifestEntry {
  std::string site;
  PublicKey public_key{};
};

class Manifest {
 public:
  Manifest() = default;
  // Throws ConfigError on duplicate site names or duplicate public keys.
  explicit Manifest(std::vector<ManifestEntry> entries);

  size_t size() const { return entries_.size(); }
  const ManifestEntry& entry(size_t i) const { return entries_[i]; }
  // SHA-256 of "fedtrain manifest v1\n" and "NAME base64(key)\n" per site, in order.
  const Sha256Digest& hash() const { return hash_; }

 private:
  std::vector<ManifestEntry> entries_;
  Sha256Digest hash_{};
};

}  // namespace fedtrain
