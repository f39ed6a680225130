// Start-up agreement of the site leaders on the settings every site must share.
#include "runtime/federation/settings_agreement.h"

#include <cstdio>
#include <cstring>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/federation/sealed_message.h"

namespace fedtrain {
namespace {

constexpr size_t kMaxSettingsBytes = 64 * 1024;  // far above any real settings text

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// Every leader sends `mine` to every other; theirs[p] receives p's (at most
// `capacity` bytes). Returns the bytes received from each leader.
std::vector<std::string> all_to_all(Transport& t, EgressLog* log, const std::vector<std::string>& sites,
                                    const std::string& mine, size_t capacity, uint64_t* sent_bytes) {
  const int n = t.size(), me = t.rank();
  std::vector<std::vector<uint8_t>> buffers(n, std::vector<uint8_t>(capacity));
  std::vector<Transport::Handle> recvs(n, -1), sends;
  const auto tag = static_cast<int>(Phase::kSettings);
  for (int p = 0; p < n; ++p)
    if (p != me) recvs[p] = t.irecv(p, tag, buffers[p]);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(mine.data()), mine.size());
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    if (log != nullptr) log->record(0, 0, phase_name(Phase::kSettings), sites[p], bytes);
    sends.push_back(t.isend(p, tag, bytes));
    *sent_bytes += bytes.size();
  }
  std::vector<std::string> theirs(n);
  theirs[me] = mine;
  for (int p = 0; p < n; ++p) {
    if (p == me) continue;
    const size_t got = t.wait(recvs[p]);
    if (got == Transport::kTooLong)
      throw Error("start-up: the settings message from site '" + sites[p] + "' is longer than " +
                  std::to_string(capacity) + " bytes: that leader does not run this protocol version");
    theirs[p].assign(reinterpret_cast<const char*>(buffers[p].data()), got);
  }
  for (auto h : sends) t.wait(h);
  return theirs;
}

std::vector<SharedSetting> parse_text(const std::string& text) {
  std::vector<SharedSetting> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    out.push_back({line.substr(0, eq), line.substr(eq + 3)});
  }
  return out;
}

}  // namespace

std::vector<SharedSetting> federation_settings(const Config& c, const std::string& manifest_sha256,
                                               const std::string& signing_keys_sha256) {
  std::string sites;
  for (const auto& s : c.sites) sites += (sites.empty() ? "" : ",") + s.name;
  const ExchangeConfig& x = c.exchange;
  return {
      {"federation.secure", x.secure ? "true" : "false"},
      {"federation.manifest_sha256", manifest_sha256},
      {"ledger.signing_keys_sha256", signing_keys_sha256.empty() ? "off" : signing_keys_sha256},
      {"sites", sites},
      {"run.job_id", c.job_id},
      {"federation.min_sites", std::to_string(x.min_sites)},
      {"federation.allow_two_participants", x.allow_two_participants ? "true" : "false"},
      {"federation.clip", number(x.clip)},
      {"federation.frac_bits", std::to_string(x.frac_bits)},
      {"federation.chunk_kib", std::to_string(x.chunk_bytes / 1024)},
      {"federation.max_update_norm", number(x.max_update_norm)},
      {"federation.max_failed_rounds", std::to_string(x.max_failed_rounds)},
      {"federation.peer_timeout_s", number(x.peer_timeout_s)},
      {"federation.rounds", std::to_string(c.rounds)},
      {"model.kind", c.model_kind == ModelKind::kMlp ? "mlp" : "gpt"},
      {"model.hidden", join(c.hidden)},
      {"model.layers", std::to_string(c.layers)},
      {"model.heads", std::to_string(c.heads)},
      {"model.dim", std::to_string(c.dim)},
      {"model.context", std::to_string(c.context)},
      {"outer.lr", number(c.outer.lr)},
      {"outer.momentum", number(c.outer.momentum)},
      {"outer.nesterov", c.outer.nesterov ? "true" : "false"},
  };
}

std::string settings_text(const std::vector<SharedSetting>& settings) {
  std::string text;
  for (const auto& s : settings) text += s.key + " = " + s.value + "\n";
  return text;
}

std::string first_difference(const std::vector<SharedSetting>& a, const std::vector<SharedSetting>& b) {
  for (size_t i = 0; i < a.size() || i < b.size(); ++i) {
    if (i >= a.size()) return b[i].key;
    if (i >= b.size() || a[i].key != b[i].key || a[i].value != b[i].value) return a[i].key;
  }
  return "";
}

Sha256Digest agree_settings(Transport& transport, EgressLog* log, const std::vector<std::string>& sites,
                            const std::vector<SharedSetting>& mine, uint64_t* sent_bytes) {
  const std::string text = settings_text(mine);
  const Sha256Digest digest = sha256(text.data(), text.size());
  const std::string digest_bytes(reinterpret_cast<const char*>(digest.data()), digest.size());
  const auto digests = all_to_all(transport, log, sites, digest_bytes, digest.size(), sent_bytes);
  int differs = -1;
  for (size_t s = 1; s < digests.size() && differs < 0; ++s)
    if (digests[s] != digests[0]) differs = static_cast<int>(s);
  if (differs < 0) return digest;

  // Explain: every leader learns every text and names the same first difference.
  const auto texts = all_to_all(transport, log, sites, text, kMaxSettingsBytes, sent_bytes);
  const auto first = parse_text(texts[0]), other = parse_text(texts[differs]);
  const std::string key = first_difference(first, other);
  if (key.empty())
    throw Error("start-up: the leaders' settings digests differ but their settings do not: a settings message was "
                "altered between the sites",
                kExitRuntime, /*collective=*/true);
  auto value_of = [&](const std::vector<SharedSetting>& list) {
    for (const auto& s : list)
      if (s.key == key) return "'" + s.value + "'";
    return std::string("(not set)");
  };
  throw ConfigError("the sites do not share their federation settings: site '" + sites[differs] + "' runs with " +
                        key + " = " + value_of(other) + ", site '" + sites[0] + "' with " + key + " = " +
                        value_of(first) + ". Every site must use the same " + key +
                        " (see docs/security.md, 'Settings every site shares'): correct the config of the site "
                        "that differs",
                    /*collective=*/true);
}

}  // namespace fedtrain
