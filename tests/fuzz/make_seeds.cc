// Writes the fuzz seeds that fedtrain's own writers make, into DIR/<target>/:
//   checkpoint/  small checkpoints (write_checkpoint_file): plain FedAvg, and SGD momentum plus an
//                outer momentum buffer, 2 ranks
//   dataset/     an image shard (write_dataset_file) and a text shard (write_token_shard)
//   egress/      an egress log of 4 messages (EgressLog)
//   sealed_message/  messages sealed with the fuzz key for the expected header (fuzz_seal_key.h)
//   ledger/      a ledger of 3 rounds signed by es and de (LedgerFile; fuzz_keys.h)
//   handshake/   what a peer sends in the leader handshake, with valid proofs: es dialing de, de
//                answering es, and de refusing es (other settings)
//
//   fuzz_make_seeds DIR      (tests/fuzz/README.md: how tests/fuzz/seeds/ was made)
// Everything is deterministic, so running it again gives the same files (HDF5 writes no times).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/data/dataset_file.h"
#include "runtime/data/token_shard.h"
#include "runtime/federation/egress_log.h"
#include "runtime/ledger/ledger_file.h"
#include "runtime/net/leader_handshake.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_seal_key.h"

namespace fs = std::filesystem;
using namespace fedtrain;

namespace {

Checkpoint small_checkpoint(bool with_optimizers) {
  Checkpoint c;
  c.job_id = "fuzz";
  c.round = 3;
  c.attempt = 1;
  c.config_text = "[run]\njob_id = fuzz\n";
  c.manifest_sha256 = with_optimizers ? std::string(64, 'a') : "";
  c.site = "es";
  c.sites = {"es", "de", "fr"};
  c.model_layout = "layers.0.weight:3x4,layers.0.bias:3";
  const size_t n = 15;
  for (size_t i = 0; i < n; ++i) c.model.push_back(0.25f * static_cast<float>(i) - 1.0f);
  if (with_optimizers) {
    c.inner.push_back({"momentum", std::vector<float>(n, 0.5f)});
    c.outer.push_back({"momentum", std::vector<float>(n, -0.125f)});
    c.inner_steps = 150;
    c.data = {{1, 7}, {1, 9}};
  } else {
    c.data = {{0, 3}};
  }
  return c;
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Rounds 1 to 3 of job fuzz; de sits round 2 out but signs it.
void write_ledger(const fs::path& path) {
  fs::remove(path);
  const SigningManifest keys = fuzz::signing_manifest();
  const SigningKey signers[2] = {fuzz::signing_key(0), fuzz::signing_key(1)};
  LedgerFile ledger(path.string(), "fuzz", keys);
  for (uint64_t round = 1; round <= 3; ++round) {
    LedgerRecord r;
    r.job = "fuzz";
    r.round = round;
    r.attempt = round == 3 ? 1 : 0;
    r.participants.push_back({"es", 100});
    if (round != 2) r.participants.push_back({"de", 80});
    r.model.fill(static_cast<uint8_t>(round));
    r.prev = ledger.head();
    const std::string bytes = ledger_signed_bytes(r);
    for (int i = 0; i < 2; ++i)
      r.signatures.push_back({fuzz::kSites[i], signers[i].sign({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})});
    ledger.append(r);
  }
}

void append(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

// A role byte, then the peer's hello and verdicts (fuzz_handshake.cc).
void write_handshakes(const fs::path& dir) {
  const Manifest m = fuzz::manifest();
  const std::vector<uint8_t> es = net::encode_hello(fuzz::hello(0)), de = net::encode_hello(fuzz::hello(1));
  // es dials de: the same keys on both sides.
  const net::HandshakeKeys keys = net::handshake_keys(fuzz::x25519_key(0), m.entry(1).public_key, m.hash(), es, de);
  std::vector<uint8_t> dialer{1};  // this leader (es) dials; the peer (de) answers
  append(dialer, de);
  append(dialer, net::encode_verdict(net::Verdict::kProof, &keys.acceptor_proof));
  append(dialer, net::encode_verdict(net::Verdict::kAccepted));
  write_bytes(dir / "dialer-accepted.bin", dialer);
  std::vector<uint8_t> refused{1};
  append(refused, de);
  append(refused, net::encode_verdict(net::Verdict::kOtherSettings));
  write_bytes(dir / "dialer-refused.bin", refused);
  std::vector<uint8_t> acceptor{0};  // this leader (de) accepts; the peer (es) dials
  append(acceptor, es);
  append(acceptor, net::encode_verdict(net::Verdict::kProof, &keys.dialer_proof));
  write_bytes(dir / "acceptor-proof.bin", acceptor);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  for (const char* t : {"checkpoint", "dataset", "egress", "sealed_message", "ledger", "handshake"}) fs::create_directories(dir / t);

  write_checkpoint_file((dir / "checkpoint" / "fedavg.h5").string(), small_checkpoint(false));
  write_checkpoint_file((dir / "checkpoint" / "momentum.h5").string(), small_checkpoint(true));

  Dataset d;
  d.rows = 4;
  d.features = 3;
  for (size_t i = 0; i < d.rows * d.features; ++i) d.x.push_back(static_cast<float>(i) / 12.0f);
  d.y = {0, 1, 2, 1};
  write_dataset_file((dir / "dataset" / "images.h5").string(), d, 3, {{"source", "fuzz"}});
  TokenShardAttributes a;
  a.strings = {{"language", "es"}, {"source", "file"}, {"source_version", ""}, {"split", "train"}};
  a.integers = {{"paragraphs", 2}};
  write_token_shard((dir / "dataset" / "text.h5").string(), "Hola mundo.\nAdios.\n", a);

  const fs::path log = dir / "egress" / "log.jsonl";
  fs::remove(log);
  {
    EgressLog e(log.string());
    const std::vector<uint8_t> m1(100, 1), m2(1124, 2);
    e.record(0, 0, "session", "de", m1);
    e.record(1, 0, "status", "de", m1);
    e.record(1, 0, "reduce-scatter", "fr", m2);
    e.record(1, 1, "all-gather", "de", m2);
    e.sync();
  }

  Aes256Gcm key(fuzz::seal_key());
  for (size_t length : {0, 16, 64, 100}) {
    MessageHeader h = fuzz::expected_header();
    h.length = length;
    std::vector<uint8_t> payload(length);
    for (size_t i = 0; i < length; ++i) payload[i] = static_cast<uint8_t>(i * 7);
    std::vector<uint8_t> wire(1 + wire_bytes(length));
    wire[0] = length == 64 ? 1 : (length == 100 ? 2 : 0);  // flags: fixed 64-byte length; open in place
    seal_message(key, h, payload.data(), wire.data() + 1);
    write_bytes(dir / "sealed_message" / ("chunk-" + std::to_string(length) + ".bin"), wire);
  }
  write_ledger(dir / "ledger" / "ledger.jsonl");
  write_handshakes(dir / "handshake");
  std::printf("fuzz_make_seeds: seeds in %s\n", dir.c_str());
  return 0;
}
