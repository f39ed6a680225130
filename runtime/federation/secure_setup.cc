// Secure aggregation set-up from the config.
#include "runtime/federation/secure_setup.h"

#include <fstream>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/ledger/signing_manifest.h"

namespace fedtrain {

Manifest load_manifest(const Config& config) {
  std::vector<ManifestEntry> entries;
  for (const auto& s : config.sites) {
    std::string text = s.public_key, what = "[site." + s.name + "] public_key";
    if (!s.public_key_file.empty()) {
      std::ifstream in(s.public_key_file);
      if (!in)
        throw ConfigError("site '" + s.name + "': cannot read public key file '" + s.public_key_file +
                          "'; copy the site's NAME.pub from 'fedtrain keygen' there");
      std::stringstream buf;
      buf << in.rdbuf();
      text = buf.str();
      what = "site '" + s.name + "': public key file '" + s.public_key_file + "'";
    }
    entries.push_back({s.name, public_key_from_base64(text, what)});
  }
  return Manifest(std::move(entries));
}

void check_exchange_config(const Config& config) {
  load_signing_manifest(config);  // the ledger's keys, in plaintext mode too
  if (!config.exchange.secure) return;
  check_headroom(FixedPoint{config.exchange.clip, config.exchange.frac_bits}, static_cast<int>(config.sites.size()));
  load_manifest(config);
}

SecretKey load_site_identity(const Config& config, const Manifest& manifest, int site_index) {
  const SiteConfig& site = config.sites[site_index];
  SecretKey key = SecretKey::load(site.secret_key, site.name);
  if (key.public_key() != manifest.entry(site_index).public_key)
    throw ConfigError("site '" + site.name + "': secret key file '" + site.secret_key +
                      "' does not match the site's public key in the manifest ([site." + site.name +
                      "] public_key or public_key_file): wrong key file, or the manifest is out of date");
  return key;
}

SecureOptions secure_options(const Config& config) {
  SecureOptions o;
  o.fixed_point = FixedPoint{config.exchange.clip, config.exchange.frac_bits};
  o.chunk_bytes = config.exchange.chunk_bytes;
  o.min_sites = std::min<int>(config.exchange.min_sites, static_cast<int>(config.sites.size()));
  o.allow_two_participants = config.exchange.allow_two_participants;
  o.max_update_norm = config.exchange.max_update_norm;
  o.seed = config.seed;
  return o;
}

std::string privacy_summary(const Config& config) {
  if (!config.exchange.secure)
    return "none: federation.secure = false, every update crosses site borders in clear";
  std::string s = "leaders see masked updates and the aggregate only; ";
  if (config.exchange.allow_two_participants)
    return s + "in a round of exactly 2 participants each learns the other's update (federation.allow_two_participants = true)";
  return s + "a round of exactly 2 participants, where each would learn the other's update, is abandoned";
}

}  // namespace fedtrain
