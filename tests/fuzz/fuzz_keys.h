// Fixed identities of two sites, es and de, for the fuzz targets that need a manifest (ledger,
// handshake) and for make_seeds, which signs and proves with them: keys, manifests and the hello
// each leader sends. Test keys only: never a real site's.
#pragma once

#include <string>

#include "runtime/crypto/ed25519.h"
#include "runtime/crypto/x25519.h"
#include "runtime/crypto/manifest.h"
#include "runtime/ledger/signing_manifest.h"
#include "runtime/net/leader_handshake.h"

namespace fedtrain::fuzz {

inline constexpr const char* kSites[2] = {"es", "de"};

// Site i's keys (0: es, 1: de), loaded from PEM through a private 0600 file, as a site loads them.
SecretKey x25519_key(int site);
SigningKey signing_key(int site);
// The signing manifest of es and de, in that order.
SigningManifest signing_manifest();
// The federation manifest (X25519 keys) of es and de, in that order.
Manifest manifest();
// The hello site i's leader sends: a fixed nonce (in place of RAND_bytes), the manifest's hash and
// a fixed settings hash, so that make_seeds can answer it with valid proofs.
net::Hello hello(int site);

}  // namespace fedtrain::fuzz
