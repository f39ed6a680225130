// Start-up agreement of the site leaders on the settings every site must share.
//
// Protocol, before any update crosses a site border, on every leader:
//   1. digest   SHA-256 of this site's settings text (federation_settings(),
//               one "key = value" line each, in a fixed order), sent in clear
//               to every other leader over the leader transport
//   2. compare  every leader holds every digest, so all reach the same verdict
//   3. explain  only if some digest differs: the settings texts themselves
//               are exchanged, and every leader throws the same ConfigError
//               (exit 2) naming the first key in which a site differs from
//               the first site listed
// So a site that turned federation.secure off, changed min_sites, clip or the
// model is stopped at start, naming the key, instead of hanging or silently
// weakening the federation. The digests travel in clear: an attacker on the
// network can make them disagree (denial of service) or agree (hide a
// difference). The second is caught cryptographically: the agreed digest is
// mixed into the secure session id, so leaders whose settings differ derive
// different keys and not one sealed message opens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/collectives/transport.h"
#include "runtime/core/config.h"
#include "runtime/crypto/sha256.h"
#include "runtime/federation/egress_log.h"

namespace fedtrain {

struct SharedSetting {
  std::string key, value;
};

// The settings that must match across sites, in a fixed order. `manifest_sha256`
// is the hex hash of the federation manifest ("" in plaintext mode),
// `signing_keys_sha256` that of its signing keys ("" without: the ledger is off).
std::vector<SharedSetting> federation_settings(const Config& config, const std::string& manifest_sha256,
                                               const std::string& signing_keys_sha256 = "");

// "key = value\n" per setting.
std::string settings_text(const std::vector<SharedSetting>& settings);

// The first key whose value differs between `a` and `b` (or that only one has); "" if none.
std::string first_difference(const std::vector<SharedSetting>& a, const std::vector<SharedSetting>& b);

// Collective over `transport` (rank i is sites[i]). Returns the digest every
// leader agreed on, or throws a collective ConfigError naming the key, the
// site that differs and both values. Every message sent is recorded in `log`
// (if not null) as round 0, and its bytes added to *sent_bytes.
Sha256Digest agree_settings(Transport& transport, EgressLog* log, const std::vector<std::string>& sites,
                            const std::vector<SharedSetting>& mine, uint64_t* sent_bytes);

}  // namespace fedtrain
