// The ledger of rounds on a site leader: the round's record, this site's signature, the others' checked, the line appended.
//
// Inside the round driver's exchange (round_driver.h, step 6), per attempt:
//   1. sign    the leader builds the attempt's record (job, round, attempt,
//              participants and their sample counts, hash of the new global
//              model, hash of its ledger's last line) and signs it
//              (ledger_record.h has the exact bytes)
//   2. carry   the record's SHA-256 and the signature ride with the leader's
//              outcome to every other leader (Aggregator::agree attachment:
//              sealed in secure mode, in clear in plaintext mode)
//   3. check   once every leader agreed on an applied outcome: every leader's
//              record digest must equal this leader's (the same participants,
//              model and chain head) and its signature must verify against its
//              key in the manifest. Anything else fails the attempt like a
//              failed hash check, naming the site, and the round is retried
//   4. append  the record with every leader's signature, fsynced, before the
//              round's checkpoint is written
// Every leader judges the same bytes, so all reach the same verdict.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/federation/aggregator.h"
#include "runtime/ledger/ledger_file.h"
#include "runtime/ledger/signing_manifest.h"

namespace fedtrain {

class RoundLedger {
 public:
  // The record digest and the signature, appended to the outcome message.
  static constexpr size_t kAttachmentBytes = sizeof(Sha256Digest) + sizeof(Signature);

  // On the leader of `config.sites[site_index]`; `leaders[i]` names the site
  // of leader i. Loads the manifest's signing keys and this site's signing
  // secret key (ConfigError naming the site and file, also when it does not
  // match the manifest), then opens the ledger (Error when it is damaged).
  RoundLedger(const Config& config, int site_index, std::vector<std::string> leaders);
  ~RoundLedger();

  // Step 1: what this leader attaches to its outcome for attempt `id`; zeros
  // unless `applied` (nothing is recorded for other outcomes).
  std::vector<uint8_t> sign(const RoundId& id, const std::vector<Participant>& participants, const Sha256Digest& model,
                            bool applied);
  // Step 3: "" or what is wrong, naming the site.
  std::string check(const std::vector<std::vector<uint8_t>>& attachments);
  // Step 4: appends the record of the last sign() with the signatures check() accepted.
  void append();
  // The leaders of the exchanges from now on (one job per site: the present
  // sites, membership.h); each must be in the manifest. A record then bears
  // the signatures of the leaders present in its round.
  void set_leaders(std::vector<std::string> leaders);

  // Start-up, after the leaders agreed to resume after `round` (0: a fresh
  // start): records of later rounds move to PATH.discarded. Returns how many.
  size_t roll_back_to(int64_t round);

  const std::string& path() const;
  uint64_t records() const;

 private:
  const Config& config_;
  std::vector<std::string> leaders_;
  SigningManifest keys_;
  SigningKey key_;
  std::unique_ptr<LedgerFile> file_;
  LedgerRecord pending_;
  Sha256Digest pending_digest_{};
  std::string pending_bytes_;
};

}  // namespace fedtrain
