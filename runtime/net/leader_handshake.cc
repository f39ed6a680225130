// The authenticated handshake of two site leaders: wire format and proofs.
#include "runtime/net/leader_handshake.h"

#include <cstring>

namespace fedtrain::net {
namespace {

constexpr uint8_t kMagic[4] = {'F', 'T', 'L', 'H'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kKindHello = 1;
constexpr char kTranscriptLabel[] = "fedtrain leader handshake v1";

}  // namespace

std::vector<uint8_t> encode_hello(const Hello& hello) {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  out.push_back(kVersion);
  out.push_back(kKindHello);
  const size_t n = std::min(hello.site.size(), kMaxSiteNameBytes);
  out.push_back(static_cast<uint8_t>(n >> 8));
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), hello.site.begin(), hello.site.begin() + static_cast<std::ptrdiff_t>(n));
  out.insert(out.end(), hello.nonce.begin(), hello.nonce.end());
  out.insert(out.end(), hello.manifest_hash.begin(), hello.manifest_hash.end());
  out.insert(out.end(), hello.settings_hash.begin(), hello.settings_hash.end());
  return out;
}

HelloPrefix decode_hello_prefix(std::span<const uint8_t> p) {
  HelloPrefix r;
  if (p.size() < kHelloPrefixBytes || std::memcmp(p.data(), kMagic, 4) != 0) {
    r.error = "it does not speak the fedtrain leader protocol (no 'FTLH' hello)";
  } else if (p[4] != kVersion || p[5] != kKindHello) {
    r.error = "it speaks leader protocol version " + std::to_string(p[4]) + ", this fedtrain speaks version " +
              std::to_string(kVersion) + " (install the same fedtrain release on every site)";
  } else {
    r.name_bytes = (size_t{p[6]} << 8) | p[7];
    if (r.name_bytes == 0 || r.name_bytes > kMaxSiteNameBytes) {
      r.error = "its hello names a site of " + std::to_string(r.name_bytes) + " bytes";
      r.name_bytes = 0;
    }
  }
  return r;
}

std::string decode_hello(std::span<const uint8_t> wire, Hello* hello) {
  HelloPrefix prefix = decode_hello_prefix(wire.first(std::min(wire.size(), kHelloPrefixBytes)));
  if (!prefix.error.empty()) return prefix.error;
  if (wire.size() != kHelloPrefixBytes + prefix.name_bytes + kHelloTailBytes) return "its hello has the wrong length";
  const uint8_t* p = wire.data() + kHelloPrefixBytes;
  hello->site.assign(reinterpret_cast<const char*>(p), prefix.name_bytes);
  p += prefix.name_bytes;
  std::memcpy(hello->nonce.data(), p, 32);
  std::memcpy(hello->manifest_hash.data(), p + 32, 32);
  std::memcpy(hello->settings_hash.data(), p + 64, 32);
  for (char c : hello->site) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "its hello names a site with control characters";
  }
  return "";
}

std::string verdict_text(Verdict v) {
  switch (v) {
    case Verdict::kProof: return "proof";
    case Verdict::kAccepted: return "accepted";
    case Verdict::kOtherManifest: return "it holds another federation manifest";
    case Verdict::kUnknownSite: return "the site name it claims is not in the federation manifest";
    case Verdict::kUnexpectedSite: return "it is not the site expected on this connection";
    case Verdict::kBadProof:
      return "the handshake proof did not verify (a wrong key for that site, an impostor, or a replayed handshake)";
    case Verdict::kOtherSettings: return "it holds other federation settings (the settings digests differ)";
    case Verdict::kBadHello: return "its hello is not one of this protocol version";
  }
  return "unknown verdict";
}

bool is_config_refusal(Verdict v) {
  return v == Verdict::kOtherManifest || v == Verdict::kUnknownSite || v == Verdict::kBadProof ||
         v == Verdict::kOtherSettings || v == Verdict::kBadHello;
}

std::array<uint8_t, kVerdictBytes> encode_verdict(Verdict v, const Key256* proof) {
  std::array<uint8_t, kVerdictBytes> out{};
  out[0] = static_cast<uint8_t>(v);
  if (proof != nullptr) std::memcpy(out.data() + 1, proof->data(), 32);
  return out;
}

std::string decode_verdict(std::span<const uint8_t> wire, Verdict* v, Key256* proof) {
  if (wire.size() != kVerdictBytes || wire[0] > static_cast<uint8_t>(Verdict::kBadHello))
    return "it sent a handshake verdict this fedtrain does not know (code " +
           std::to_string(wire.empty() ? 0 : wire[0]) + ")";
  *v = static_cast<Verdict>(wire[0]);
  std::memcpy(proof->data(), wire.data() + 1, 32);
  return "";
}

HandshakeKeys handshake_keys(const SecretKey& self, const PublicKey& peer, const Sha256Digest& manifest_hash,
                             std::span<const uint8_t> hello_dialer, std::span<const uint8_t> hello_acceptor) {
  Sha256 t;
  t.update(kTranscriptLabel, sizeof kTranscriptLabel - 1);
  t.update(hello_dialer.data(), hello_dialer.size());
  t.update(hello_acceptor.data(), hello_acceptor.size());
  const Sha256Digest th = t.finish();
  const std::string th_text(reinterpret_cast<const char*>(th.data()), th.size());
  const SharedSecret shared = self.agree(peer);
  const Key256 k = hkdf_sha256(shared.data(), shared.size(), manifest_hash.data(), manifest_hash.size(),
                               std::string(kTranscriptLabel) + th_text);
  HandshakeKeys keys;
  keys.dialer_proof = hkdf_expand_sha256(k, "fedtrain handshake proof v1 dialer" + th_text);
  keys.acceptor_proof = hkdf_expand_sha256(k, "fedtrain handshake proof v1 acceptor" + th_text);
  return keys;
}

}  // namespace fedtrain::net
