// The federation manifest.
#include "runtime/crypto/manifest.h"

#include "runtime/core/error.h"

namespace fedtrain {

Manifest::Manifest(std::vector<ManifestEntry> entries) : entries_(std::move(entries)) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (entries_[i].site == entries_[j].site)
        throw ConfigError("federation manifest lists site '" + entries_[i].site + "' twice");
      if (entries_[i].public_key == entries_[j].public_key)
        throw ConfigError("federation manifest: sites '" + entries_[j].site + "' and '" + entries_[i].site +
                          "' have the same public key; every site needs its own key pair (fedtrain keygen)");
    }
  }
  std::string text = "fedtrain manifest v1\n";
  for (const auto& e : entries_) text += e.site + " " + to_base64(e.public_key.data(), e.public_key.size()) + "\n";
  hash_ = sha256(text.data(), text.size());
}

}  // namespace fedtrain
