// Fuzz target: the bytes a peer sends in the TCP leader handshake before it is authenticated,
// parsed as runtime/net/tcp_connect.cc parses them (decode_hello_prefix, decode_hello,
// decode_verdict in runtime/net/leader_handshake.cc), on either side of the connection.
//
// Input: a role byte (bit 0 set: this leader, es, dials de; clear: this leader, de, accepts es),
// then what the peer sends, in order: its hello (read in two parts, the fixed prefix first, as the
// connection reads it), then its verdict(s) of 33 bytes (the acceptor's proof and its ACCEPTED, or
// the dialer's proof). Input that runs out is a peer that closed. The identities are fixed
// (fuzz_keys.h), so the seeds (make_seeds) hold valid proofs. Checked besides "no crash": a prefix
// accepted gives a name length of 1 to 255; a hello that decodes is encoded back to its exact
// bytes; so is a verdict, and every verdict has a text.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/net/leader_handshake.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace fedtrain;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_handshake: %s\n", what.c_str());
  std::abort();
}

// What the peer sent, read as the connection reads it: whole reads of a given size.
class Wire {
 public:
  explicit Wire(std::span<const uint8_t> bytes) : rest_(bytes) {}
  bool read(size_t n, std::vector<uint8_t>& out) {
    if (rest_.size() < n) return false;  // the peer closed before
    out.insert(out.end(), rest_.begin(), rest_.begin() + static_cast<std::ptrdiff_t>(n));
    rest_ = rest_.subspan(n);
    return true;
  }

 private:
  std::span<const uint8_t> rest_;
};

// How far the handshake got, shown with FEDTRAIN_FUZZ_VERBOSE=1 (0, for a return that ends it).
int note(const std::string& why) {
  fuzz::rejected("fuzz_handshake", std::runtime_error(why));
  return 0;
}

// A verdict from the peer; false when the handshake stops there (refused, or closed).
bool read_verdict(Wire& wire, net::Verdict want, const Key256* proof_wanted) {
  std::vector<uint8_t> bytes;
  if (!wire.read(net::kVerdictBytes, bytes)) return note("closed before its verdict") != 0;
  net::Verdict v;
  Key256 proof{};
  const std::string odd = net::decode_verdict(bytes, &v, &proof);
  if (!odd.empty()) return note(odd) != 0;
  const auto again = net::encode_verdict(v, &proof);
  if (!std::equal(again.begin(), again.end(), bytes.begin())) finding("a verdict decodes but does not encode back");
  if (net::verdict_text(v).empty()) finding("a verdict without a text");
  if (v != want) return note("refused: " + net::verdict_text(v)) != 0;
  if (proof_wanted != nullptr && !(proof == *proof_wanted)) return note("its proof does not verify") != 0;
  note("verdict: " + net::verdict_text(v));
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Manifest manifest = fuzz::manifest();
  static const SecretKey secrets[2] = {fuzz::x25519_key(0), fuzz::x25519_key(1)};
  if (size == 0) return 0;
  const bool dialing = (data[0] & 1) != 0;
  const int self = dialing ? 0 : 1, peer = 1 - self;
  const std::vector<uint8_t> mine = net::encode_hello(fuzz::hello(self));
  Wire wire(std::span<const uint8_t>(data + 1, size - 1));

  std::vector<uint8_t> theirs_wire;
  if (!wire.read(net::kHelloPrefixBytes, theirs_wire)) return note("closed before its hello");
  const net::HelloPrefix prefix = net::decode_hello_prefix(theirs_wire);
  if (!prefix.error.empty()) return note(prefix.error);
  if (prefix.name_bytes == 0 || prefix.name_bytes > net::kMaxSiteNameBytes) finding("a prefix accepted a bad name length");
  if (!wire.read(prefix.name_bytes + net::kHelloTailBytes, theirs_wire)) return note("closed in its hello");
  net::Hello theirs;
  const std::string bad = net::decode_hello(theirs_wire, &theirs);
  if (!bad.empty()) return note(bad);
  if (net::encode_hello(theirs) != theirs_wire) finding("a hello decodes but does not encode back to its bytes");
  // Who it claims to be, and what it holds: the checks of dialer_check_hello / acceptor_check_hello.
  if (theirs.site != fuzz::kSites[peer] || theirs.manifest_hash != manifest.hash() ||
      theirs.settings_hash != fuzz::hello(peer).settings_hash)
    return note("another site, manifest or settings");
  const net::HandshakeKeys keys =
      net::handshake_keys(secrets[self], manifest.entry(static_cast<size_t>(peer)).public_key, manifest.hash(),
                          dialing ? mine : theirs_wire, dialing ? theirs_wire : mine);
  if (dialing) {
    if (!read_verdict(wire, net::Verdict::kProof, &keys.acceptor_proof)) return 0;
    (void)read_verdict(wire, net::Verdict::kAccepted, nullptr);
  } else {
    (void)read_verdict(wire, net::Verdict::kProof, &keys.dialer_proof);
  }
  return 0;
}
