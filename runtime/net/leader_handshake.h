// The authenticated handshake of two site leaders on a new TCP connection: wire format and proofs.
//
// Before any protocol message, on every new connection (docs/security.md,
// "The leader handshake", has the full text):
//   1. dialer   -> acceptor  HELLO_D
//   2. acceptor -> dialer    HELLO_A, then PROOF_A or REJECT(reason)
//   3. dialer   -> acceptor  PROOF_D or REJECT(reason)
//   4. acceptor -> dialer    ACCEPTED or REJECT(reason)
// HELLO = "FTLH" | version u8 = 1 | kind u8 = 1 | name length u16 BE | site name |
//         nonce[32] (fresh, RAND_bytes) | manifest hash[32] | SHA-256(settings digest)[32]
// VERDICT = code u8 | 32 bytes (the proof for PROOF, zeros otherwise)
// Keys and proofs (H = SHA-256, HKDF and HKDF-Expand as in key_schedule.h):
//   th      = H("fedtrain leader handshake v1" | HELLO_D | HELLO_A)     (the exact wire bytes)
//   K       = HKDF(ikm = X25519(sk_self, pk_peer), salt = manifest hash,
//                  info = "fedtrain leader handshake v1" | th)
//   PROOF_D = HKDF-Expand(K, "fedtrain handshake proof v1 dialer" | th)   = HMAC-SHA256(K, label | th | 0x01)
//   PROOF_A = HKDF-Expand(K, "fedtrain handshake proof v1 acceptor" | th)
// Only the two holders of the static keys of the manifest can compute K, and
// th holds both sides' fresh nonces: a recorded handshake replayed to either
// side meets a new nonce and its proof fails. The names and hashes travel in
// the clear, so that a refusal can say what differs ("another manifest").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/crypto/key_schedule.h"
#include "runtime/crypto/sha256.h"
#include "runtime/crypto/x25519.h"

namespace fedtrain::net {

inline constexpr size_t kHelloPrefixBytes = 8;  // magic, version, kind, name length
inline constexpr size_t kHelloTailBytes = 96;   // nonce, manifest hash, settings hash
inline constexpr size_t kMaxSiteNameBytes = 255;
inline constexpr size_t kVerdictBytes = 33;

struct Hello {
  std::string site;
  std::array<uint8_t, 32> nonce{};
  Sha256Digest manifest_hash{};
  Sha256Digest settings_hash{};
};

std::vector<uint8_t> encode_hello(const Hello& hello);
// From the first kHelloPrefixBytes: the length of the site name that follows,
// or an error text (not a fedtrain leader, another protocol version, a bad length).
struct HelloPrefix {
  size_t name_bytes = 0;
  std::string error;
};
HelloPrefix decode_hello_prefix(std::span<const uint8_t> prefix);
// The whole hello (prefix, name, tail); "" or what is wrong with it.
std::string decode_hello(std::span<const uint8_t> wire, Hello* hello);

enum class Verdict : uint8_t {
  kProof = 0,
  kAccepted = 1,
  kOtherManifest = 2,   // the manifest hashes differ
  kUnknownSite = 3,     // the claimed name is not in the manifest
  kUnexpectedSite = 4,  // in the manifest, but not the site expected on this connection
  kBadProof = 5,        // the proof did not verify: wrong key, impostor, or replay
  kOtherSettings = 6,   // the settings digests differ
  kBadHello = 7,        // not a hello of this protocol version
};
// What a verdict means, for error messages ("its proof did not verify ...").
std::string verdict_text(Verdict v);
// True for refusals that show a misconfiguration (exit 2), not a network fault.
bool is_config_refusal(Verdict v);

std::array<uint8_t, kVerdictBytes> encode_verdict(Verdict v, const Key256* proof = nullptr);
// "" or what is wrong (an unknown code).
std::string decode_verdict(std::span<const uint8_t> wire, Verdict* v, Key256* proof);

enum class Role { kDialer, kAcceptor };

// K and both proofs of one handshake; the same on both sides when both hold the keys of the manifest.
struct HandshakeKeys {
  Key256 dialer_proof, acceptor_proof;
};
HandshakeKeys handshake_keys(const SecretKey& self, const PublicKey& peer, const Sha256Digest& manifest_hash,
                             std::span<const uint8_t> hello_dialer, std::span<const uint8_t> hello_acceptor);

}  // namespace fedtrain::net
