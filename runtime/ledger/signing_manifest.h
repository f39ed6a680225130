// The manifest's signing keys: every site's Ed25519 public key, in config order, and their digest.
//
// The run config is the federation manifest: [site.NAME] public_key lists a
// site's X25519 key (crypto/manifest.h), [site.NAME] signing_key (or
// signing_key_file) its Ed25519 key. Every site has a signing key, or none
// has and the ledger is off. The digest is
//   SHA-256("fedtrain signing keys v1\n" + "NAME BASE64\n" per site, in config order)
// and is agreed by the leaders at start (settings_agreement.h,
// ledger.signing_keys), so that sites holding different keys stop at once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/crypto/ed25519.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {

struct SigningManifest {
  std::vector<std::string> sites;
  std::vector<SigningPublicKey> keys;  // keys[i] is sites[i]'s
  Sha256Digest hash{};

  // Index of `site`, -1 if it is not listed.
  int index(const std::string& site) const;
};

// The signing keys of `config` (inline or from their files), or nullopt when
// no site lists one. Throws ConfigError naming the site and the key or file
// (unreadable, not a key, two sites with one key).
std::optional<SigningManifest> load_signing_manifest(const Config& config);

// The digest above, of `sites` and `keys`.
Sha256Digest signing_manifest_hash(const std::vector<std::string>& sites, const std::vector<SigningPublicKey>& keys);

}  // namespace fedtrain
