// One record of a site's ledger: its line and its signed bytes.
#include "runtime/ledger/ledger_record.h"

#include "runtime/core/check.h"
#include "runtime/crypto/key_file.h"
#include "runtime/crypto/x25519.h"
#include "runtime/io/line_cursor.h"

namespace fedtrain {
namespace {

using namespace line_format;

bool is_name(const std::string& s) { return !s.empty() && s.size() <= 64 && all_of(s, is_name_char); }

}  // namespace

std::string ledger_record_body(const LedgerRecord& r) {
  FT_CHECK(is_name(r.job), "ledger record with job '" << r.job << "'");
  std::string s = "{\"v\":1,\"job\":\"" + r.job + "\",\"round\":" + std::to_string(r.round) +
                  ",\"attempt\":" + std::to_string(r.attempt) + ",\"participants\":[";
  for (size_t i = 0; i < r.participants.size(); ++i) {
    FT_CHECK(is_name(r.participants[i].site));
    s += std::string(i ? "," : "") + "{\"site\":\"" + r.participants[i].site +
         "\",\"samples\":" + std::to_string(r.participants[i].samples) + "}";
  }
  s += "],\"model_sha256\":\"" + to_hex(r.model) + "\",\"prev_sha256\":\"" + to_hex(r.prev) + "\"}";
  return s;
}

std::string ledger_signed_bytes(const LedgerRecord& r) { return kLedgerSignaturePrefix + ledger_record_body(r); }

std::string format_ledger_line(const LedgerRecord& r) {
  std::string s = ledger_record_body(r);
  s.pop_back();  // the body's closing '}'
  s += ",\"signatures\":[";
  for (size_t i = 0; i < r.signatures.size(); ++i) {
    FT_CHECK(is_name(r.signatures[i].site));
    s += std::string(i ? "," : "") + "{\"site\":\"" + r.signatures[i].site + "\",\"ed25519\":\"" +
         to_base64(r.signatures[i].ed25519.data(), r.signatures[i].ed25519.size()) + "\"}";
  }
  s += "]}\n";
  return s;
}

std::string parse_ledger_line(std::string_view line, LedgerRecord& r) {
  r = LedgerRecord{};
  Cursor c(line);
  auto expected = [&](const std::string& what) { return "expected " + what + " at byte " + std::to_string(c.byte()); };
  auto hash = [&](Sha256Digest& out, std::string& hex) {
    if (!c.token(hex, is_hex_char, 64, 64)) return false;
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return true;
  };
  std::string hex;
  if (!c.literal("{\"v\":")) return expected("'{\"v\":'");
  if (!c.literal("1,")) return expected("format version 1");
  if (!c.literal("\"job\":\"")) return expected("'\"job\":\"'");
  if (!c.token(r.job, is_name_char, 1, 64)) return expected("a job name");
  if (!c.literal("\",\"round\":")) return expected("'\",\"round\":'");
  if (!c.number(r.round)) return expected("the round (a decimal number)");
  if (!c.literal(",\"attempt\":")) return expected("',\"attempt\":'");
  if (!c.number(r.attempt)) return expected("the attempt (a decimal number)");
  if (!c.literal(",\"participants\":[")) return expected("',\"participants\":['");
  while (!c.literal("]")) {
    if (!r.participants.empty() && !c.literal(",")) return expected("',' or ']' after a participant");
    LedgerParticipant p;
    if (!c.literal("{\"site\":\"")) return expected("'{\"site\":\"'");
    if (!c.token(p.site, is_name_char, 1, 64)) return expected("a site name");
    if (!c.literal("\",\"samples\":")) return expected("'\",\"samples\":'");
    if (!c.number(p.samples)) return expected("the sample count (a decimal number)");
    if (!c.literal("}")) return expected("'}'");
    r.participants.push_back(std::move(p));
    if (r.participants.size() > 65536) return "has more participants than any federation";
  }
  if (!c.literal(",\"model_sha256\":\"")) return expected("',\"model_sha256\":\"'");
  if (!hash(r.model, hex)) return expected("the global model's SHA-256 (64 lowercase hex digits)");
  if (!c.literal("\",\"prev_sha256\":\"")) return expected("'\",\"prev_sha256\":\"'");
  if (!hash(r.prev, hex)) return expected("the previous line's SHA-256 (64 lowercase hex digits)");
  if (!c.literal("\",\"signatures\":[")) return expected("'\",\"signatures\":['");
  while (!c.literal("]")) {
    if (!r.signatures.empty() && !c.literal(",")) return expected("',' or ']' after a signature");
    LedgerSignature s;
    std::string b64;
    if (!c.literal("{\"site\":\"")) return expected("'{\"site\":\"'");
    if (!c.token(s.site, is_name_char, 1, 64)) return expected("a site name");
    if (!c.literal("\",\"ed25519\":\"")) return expected("'\",\"ed25519\":\"'");
    if (!c.token(b64, is_base64_char, 88, 88) || !raw_from_base64(b64, s.ed25519.data(), s.ed25519.size()))
      return expected("an Ed25519 signature (base64 of 64 bytes, 88 characters)");
    if (to_base64(s.ed25519.data(), s.ed25519.size()) != b64)
      return expected("an Ed25519 signature in canonical base64");
    if (!c.literal("\"}")) return expected("'\"}'");
    r.signatures.push_back(std::move(s));
    if (r.signatures.size() > 65536) return "has more signatures than any federation";
  }
  if (!c.literal("}")) return expected("'}'");
  if (!c.done()) return "unexpected bytes after the record at byte " + std::to_string(c.byte());
  return "";
}

Sha256Digest ledger_genesis(const std::string& job, const Sha256Digest& signing_keys) {
  const std::string text = "fedtrain ledger genesis v1\njob " + job + "\nsigning_keys " + to_hex(signing_keys) + "\n";
  return sha256(text.data(), text.size());
}

}  // namespace fedtrain
