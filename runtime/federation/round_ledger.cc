// The ledger of rounds on a site leader.
#include "runtime/federation/round_ledger.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/error.h"

namespace fedtrain {

RoundLedger::RoundLedger(const Config& config, int site_index, std::vector<std::string> leaders)
    : config_(config), leaders_(std::move(leaders)) {
  std::optional<SigningManifest> keys = load_signing_manifest(config);
  FT_CHECK(keys.has_value(), "RoundLedger without signing keys in the manifest");
  keys_ = std::move(*keys);
  const SiteConfig& site = config.sites[site_index];
  key_ = SigningKey::load(site.signing_secret_key, site.name);
  if (key_.public_key() != keys_.keys[site_index])
    throw ConfigError("site '" + site.name + "': signing secret key file '" + site.signing_secret_key +
                      "' does not match the site's signing key in the manifest ([site." + site.name +
                      "] signing_key or signing_key_file): wrong key file, or the manifest is out of date");
  for (const auto& l : leaders_) FT_CHECK(keys_.index(l) >= 0, "leader of site '" << l << "' not in the manifest");
  file_ = std::make_unique<LedgerFile>(site.ledger, config.job_id, keys_);
}

RoundLedger::~RoundLedger() = default;

const std::string& RoundLedger::path() const { return file_->path(); }
uint64_t RoundLedger::records() const { return file_->records(); }

std::vector<uint8_t> RoundLedger::sign(const RoundId& id, const std::vector<Participant>& participants,
                                       const Sha256Digest& model, bool applied) {
  std::vector<uint8_t> out(kAttachmentBytes, 0);
  pending_ = LedgerRecord{};
  if (!applied) return out;
  pending_.job = config_.job_id;
  pending_.round = static_cast<uint64_t>(id.round);
  pending_.attempt = static_cast<uint64_t>(id.attempt);
  for (const Participant& p : participants) {
    // Participation admits whole sample counts from 1 to 2^53 only (participation.h).
    FT_CHECK(p.samples >= 1 && p.samples == std::floor(p.samples) && p.samples <= 9007199254740992.0);
    pending_.participants.push_back({leaders_[p.site], static_cast<uint64_t>(p.samples)});
  }
  std::sort(pending_.participants.begin(), pending_.participants.end(),
            [&](const LedgerParticipant& a, const LedgerParticipant& b) { return keys_.index(a.site) < keys_.index(b.site); });
  pending_.model = model;
  pending_.prev = file_->head();
  pending_bytes_ = ledger_signed_bytes(pending_);
  const std::span<const uint8_t> message(reinterpret_cast<const uint8_t*>(pending_bytes_.data()), pending_bytes_.size());
  pending_digest_ = sha256(message.data(), message.size());
  const Signature sig = key_.sign(message);
  std::memcpy(out.data(), pending_digest_.data(), pending_digest_.size());
  std::memcpy(out.data() + pending_digest_.size(), sig.data(), sig.size());
  return out;
}

std::string RoundLedger::check(const std::vector<std::vector<uint8_t>>& attachments) {
  FT_CHECK(!pending_.job.empty() && attachments.size() == leaders_.size());
  const std::string where =
      "round " + std::to_string(pending_.round) + " attempt " + std::to_string(pending_.attempt) + ": ";
  const std::span<const uint8_t> message(reinterpret_cast<const uint8_t*>(pending_bytes_.data()), pending_bytes_.size());
  std::vector<LedgerSignature> sigs;
  for (size_t s = 0; s < attachments.size(); ++s) {
    const std::vector<uint8_t>& a = attachments[s];
    if (a.size() != kAttachmentBytes) return where + "site '" + leaders_[s] + "' sent no ledger signature";
    if (std::memcmp(a.data(), pending_digest_.data(), pending_digest_.size()) != 0)
      return where + "site '" + leaders_[s] + "' signed another ledger record than this site (its last ledger record, "
             "or its participant list, differs: the sites' ledgers have diverged; compare them with 'fedtrain ledger "
             "verify', see docs/operations.md)";
    LedgerSignature sig{leaders_[s], {}};
    std::memcpy(sig.ed25519.data(), a.data() + pending_digest_.size(), sig.ed25519.size());
    const int k = keys_.index(leaders_[s]);
    if (!verify_signature(keys_.keys[k], message, sig.ed25519))
      return where + "the ledger signature of site '" + leaders_[s] +
             "' does not verify against its signing key in the manifest (a wrong signing_secret_key on that site, "
             "or a forged message)";
    sigs.push_back(std::move(sig));
  }
  std::sort(sigs.begin(), sigs.end(),
            [&](const LedgerSignature& a, const LedgerSignature& b) { return keys_.index(a.site) < keys_.index(b.site); });
  pending_.signatures = std::move(sigs);
  return "";
}

void RoundLedger::append() {
  FT_CHECK(!pending_.signatures.empty(), "ledger append before its signatures were checked");
  file_->append(pending_);
  pending_ = LedgerRecord{};
}

void RoundLedger::set_leaders(std::vector<std::string> leaders) {
  for (const auto& l : leaders) FT_CHECK(keys_.index(l) >= 0, "leader of site '" << l << "' not in the manifest");
  leaders_ = std::move(leaders);
}

size_t RoundLedger::roll_back_to(int64_t round) { return file_->roll_back_to(static_cast<uint64_t>(round)); }

}  // namespace fedtrain
