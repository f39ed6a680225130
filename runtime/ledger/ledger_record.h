// One record of a site's ledger of rounds: its fields, its line, and the exact bytes every participant signs.
//
// A ledger is JSON Lines, one record per completed round (an applied round
// every leader agreed on), every line ended by '\n', keys always in this order:
//
//   {"v":1,"job":"quickstart","round":3,"attempt":0,
//    "participants":[{"site":"es","samples":20000},{"site":"de","samples":20000}],
//    "model_sha256":"9f2c...","prev_sha256":"41d0...",
//    "signatures":[{"site":"es","ed25519":"base64..."},{"site":"de","ed25519":"base64..."}]}
//
// (one line; wrapped here). Fields:
//   v             format version, 1
//   job           run.job_id
//   round         1-based; attempt: the exchange attempt that completed it (0, 1, ... after retries)
//   participants  the sites whose updates the average holds, in manifest order,
//                 with the sample count each reported (its weight; its own word)
//   model_sha256  SHA-256 of the new global model: its float32 parameters in
//                 layout order, as the leaders' hash check compares them and as
//                 a checkpoint of the round holds them in /model
//   prev_sha256   SHA-256 of the previous line's bytes, its '\n' included; the
//                 first record's is the genesis value (ledger_genesis below)
//   signatures    one per leader of the round, in manifest order: every
//                 participant, and also the leaders that sat the round out
//                 (they attest the outcome too); Ed25519, base64 of 64 bytes
// Hashes are lowercase hex; names are 1-64 of [A-Za-z0-9_.-] (no escaping).
//
// What is signed: the bytes "fedtrain ledger record v1\n" followed by the
// line's text up to and including the prev_sha256 value's closing quote, and
// then "}" -- that is, the record without its signatures, as the same JSON
// object: {"v":1,...,"prev_sha256":"..."}. The prefix keeps a signature made
// for the ledger from meaning anything elsewhere.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/crypto/ed25519.h"
#include "runtime/crypto/sha256.h"

namespace fedtrain {

struct LedgerParticipant {
  std::string site;
  uint64_t samples = 0;
};

struct LedgerSignature {
  std::string site;
  Signature ed25519{};
};

struct LedgerRecord {
  std::string job;
  uint64_t round = 0;
  uint64_t attempt = 0;
  std::vector<LedgerParticipant> participants;
  Sha256Digest model{};
  Sha256Digest prev{};
  std::vector<LedgerSignature> signatures;
};

inline constexpr const char* kLedgerSignaturePrefix = "fedtrain ledger record v1\n";

// {"v":1,...,"prev_sha256":"..."}: the record without signatures, no '\n'.
std::string ledger_record_body(const LedgerRecord& r);
// The bytes each leader signs: kLedgerSignaturePrefix + ledger_record_body(r).
std::string ledger_signed_bytes(const LedgerRecord& r);
// The whole line, signatures and '\n' included.
std::string format_ledger_line(const LedgerRecord& r);
// Parses one line (without its '\n'); returns "" or what is wrong with it. A
// line it accepts is exactly format_ledger_line() of the record it fills.
std::string parse_ledger_line(std::string_view line, LedgerRecord& out);

// The prev of the first record: SHA-256 of
//   "fedtrain ledger genesis v1\n" + "job " + JOB + "\n" + "signing_keys " + HEX + "\n"
// where HEX is the signing manifest's digest (signing_manifest.h): a ledger
// starts from its job and the keys that may sign it.
Sha256Digest ledger_genesis(const std::string& job, const Sha256Digest& signing_keys);

}  // namespace fedtrain
