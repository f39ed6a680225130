// Secure aggregation set-up from the config: the federation manifest and the site identity of a leader.
#pragma once

#include <memory>

#include "runtime/core/config.h"
#include "runtime/crypto/manifest.h"
#include "runtime/crypto/x25519.h"
#include "runtime/federation/secure_aggregator.h"

namespace fedtrain {

// Every site's public key from the config (inline or from its file), as the
// manifest. Throws ConfigError naming the site and key or file. No MPI.
Manifest load_manifest(const Config& config);

// Start-up checks of the exchange settings that need no MPI (headroom of the
// fixed-point encoding for the configured number of sites, the manifest's
// public keys and signing keys). Throws ConfigError.
void check_exchange_config(const Config& config);

// The secret key of `site_index`, checked against its manifest entry. Throws
// ConfigError naming the site and file. Only the site's leader calls this.
SecretKey load_site_identity(const Config& config, const Manifest& manifest, int site_index);

SecureOptions secure_options(const Config& config);

// One line for the start-up banner: what the other leaders can learn of a site's update.
std::string privacy_summary(const Config& config);

}  // namespace fedtrain
