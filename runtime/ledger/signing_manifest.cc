// The manifest's signing keys.
#include "runtime/ledger/signing_manifest.h"

#include <fstream>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/crypto/x25519.h"

namespace fedtrain {

int SigningManifest::index(const std::string& site) const {
  for (size_t i = 0; i < sites.size(); ++i)
    if (sites[i] == site) return static_cast<int>(i);
  return -1;
}

Sha256Digest signing_manifest_hash(const std::vector<std::string>& sites, const std::vector<SigningPublicKey>& keys) {
  std::string text = "fedtrain signing keys v1\n";
  for (size_t i = 0; i < sites.size(); ++i) text += sites[i] + " " + to_base64(keys[i].data(), keys[i].size()) + "\n";
  return sha256(text.data(), text.size());
}

std::optional<SigningManifest> load_signing_manifest(const Config& config) {
  if (!config.ledger_configured()) return std::nullopt;
  SigningManifest m;
  for (const auto& s : config.sites) {
    std::string text = s.signing_key, what = "[site." + s.name + "] signing_key";
    if (!s.signing_key_file.empty()) {
      std::ifstream in(s.signing_key_file);
      if (!in)
        throw ConfigError("site '" + s.name + "': cannot read signing key file '" + s.signing_key_file +
                          "'; copy the site's NAME.sign.pub from 'fedtrain keygen' there");
      std::stringstream buf;
      buf << in.rdbuf();
      text = buf.str();
      what = "site '" + s.name + "': signing key file '" + s.signing_key_file + "'";
    }
    const SigningPublicKey key = signing_key_from_base64(text, what);
    for (size_t j = 0; j < m.keys.size(); ++j)
      if (m.keys[j] == key)
        throw ConfigError("federation manifest: sites '" + m.sites[j] + "' and '" + s.name +
                          "' have the same signing key; every site needs its own (fedtrain keygen)");
    m.sites.push_back(s.name);
    m.keys.push_back(key);
  }
  m.hash = signing_manifest_hash(m.sites, m.keys);
  return m;
}

}  // namespace fedtrain
