// fedtrain ledger: check a site's signed ledger of rounds (verify) against the manifest and the checkpoints, without MPI.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "launch/commands.h"
#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/io/guarded_read.h"
#include "runtime/ledger/ledger_check.h"
#include "runtime/ledger/signing_manifest.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

const char* kLedgerUsage =
    "usage: fedtrain ledger verify DIR|FILE --config FILE [--site NAME]\n"
    "  checks a site's ledger of rounds (DIR/ledger.jsonl for a checkpoint directory DIR, or FILE): every\n"
    "  line a record, the chain of hashes from the job's genesis value, rounds in order, every signature\n"
    "  against the signing keys of the manifest in the run config (--config), and that each record's global\n"
    "  model hash is the model of the checkpoint of that round beside the ledger, where one exists.\n"
    "  --site NAME (or FEDTRAIN_SITE) reads a config written for one site's processes (without 'ranks').\n"
    "Exit codes: 0 intact, 1 a fault (each printed with its line and what is wrong), 2 bad usage, a config\n"
    "without signing keys, or a ledger that cannot be read. Records cut from the end leave an intact chain:\n"
    "compare the head with another site's ledger or one noted earlier (docs/operations.md, 'The ledger').\n";

constexpr const char* kHostileCheckpoint = "remove it, or put back a good copy";

struct Args {
  std::string target, config, site;
};

Args parse_args(const std::vector<std::string>& args) {
  Args a;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--config" && i + 1 < args.size()) {
      a.config = args[++i];
    } else if (s.rfind("--config=", 0) == 0) {
      a.config = s.substr(9);
    } else if (s == "--site" && i + 1 < args.size()) {
      a.site = args[++i];  // a config of one site's processes (no 'ranks'), as for fedtrain run
    } else if (!s.empty() && s[0] != '-' && a.target.empty()) {
      a.target = s;
    } else {
      throw ConfigError("fedtrain ledger verify: unexpected argument '" + s + "'; usage: fedtrain ledger verify "
                        "DIR|FILE --config FILE");
    }
  }
  if (a.target.empty()) throw ConfigError("fedtrain ledger verify: give the ledger file or the checkpoint directory");
  if (a.config.empty())
    throw ConfigError("fedtrain ledger verify: --config FILE is needed: the run config is the manifest that holds "
                      "every site's signing key, and without the keys no signature can be checked");
  return a;
}

// Each record whose round has a checkpoint beside the ledger: the checkpoint
// (read and checked whole) must hold that model, job and attempt.
size_t compare_checkpoints(const std::string& dir, const LedgerCheck& check, std::vector<LedgerProblem>& problems) {
  CheckpointStore store(dir);
  std::map<uint64_t, const LedgerEntry*> by_round;
  for (const LedgerEntry& e : check.entries) by_round[e.round] = &e;
  size_t matched = 0;
  for (const int64_t round : store.rounds()) {
    const auto it = by_round.find(static_cast<uint64_t>(round));
    if (it == by_round.end()) continue;  // an abandoned round, or one before the ledger began
    const LedgerEntry& e = *it->second;
    const std::string path = store.path_of(round);
    try {
      // Read in a child first: a checkpoint beside the ledger may be one that crashes libhdf5.
      const Checkpoint c = read_guarded("checkpoint '" + path + "'", kHostileCheckpoint,
                                        [&] { return read_checkpoint_file(path); });
      const Sha256Digest model = sha256(c.model.data(), c.model.size() * sizeof(float));
      if (model != e.model)
        problems.push_back({e.line, "records global model " + to_hex(e.model).substr(0, 16) + "... for round " +
                                        std::to_string(round) + ", but checkpoint '" + path + "' holds model " +
                                        to_hex(model).substr(0, 16) + "..."});
      else if (c.job_id != check.job || static_cast<uint64_t>(c.attempt) != e.attempt)
        problems.push_back({e.line, "records job '" + check.job + "' attempt " + std::to_string(e.attempt) +
                                        ", but checkpoint '" + path + "' is of job '" + c.job_id + "' attempt " +
                                        std::to_string(c.attempt)});
      else
        ++matched;
    } catch (const Error& e2) {
      problems.push_back({e.line, "has a checkpoint of its round that cannot be read: " + std::string(e2.what())});
    }
  }
  return matched;
}

int verify(const Args& a) {
  const char* env_site = std::getenv("FEDTRAIN_SITE");
  std::vector<std::string> config_args = {"--config", a.config};
  if (!a.site.empty()) config_args.insert(config_args.end(), {"--site", a.site});
  const Config config = load_config(config_args, env_site ? env_site : "");
  const std::optional<SigningManifest> keys = load_signing_manifest(config);
  if (!keys)
    throw ConfigError("config '" + a.config + "' lists no signing keys ([site.NAME] signing_key or signing_key_file): "
                      "give the config of the federation that wrote the ledger");
  const bool is_dir = fs::is_directory(a.target);
  const std::string path = is_dir ? (fs::path(a.target) / "ledger.jsonl").string() : a.target;
  const std::string dir = is_dir ? a.target : fs::path(a.target).parent_path().string();
  LedgerCheck check;
  try {
    check = check_ledger(path, *keys, {config.job_id, /*every_signature=*/true});
  } catch (const Error& e) {
    throw Error(e.what(), kExitUsage);  // unreadable: not a verdict on the ledger
  }
  std::vector<LedgerProblem> problems = check.problems;
  const size_t matched = compare_checkpoints(dir.empty() ? "." : dir, check, problems);
  std::stable_sort(problems.begin(), problems.end(),
                   [](const LedgerProblem& x, const LedgerProblem& y) { return x.line < y.line; });
  if (problems.empty()) {
    const std::string rounds = check.entries.empty() ? "no rounds"
                                                     : "rounds " + std::to_string(check.entries.front().round) + " to " +
                                                           std::to_string(check.entries.back().round);
    std::printf("ok: %s: job %s, %llu records, %s, %llu signatures verified, %zu checkpoint(s) match, head %s\n",
                path.c_str(), check.job.c_str(), static_cast<unsigned long long>(check.lines), rounds.c_str(),
                static_cast<unsigned long long>(check.signatures), matched, to_hex(check.head).c_str());
    return kExitOk;
  }
  for (const LedgerProblem& p : problems)
    std::printf("damaged: %s: line %llu %s\n", path.c_str(), static_cast<unsigned long long>(p.line), p.what.c_str());
  if (check.problems_left_out > 0)
    std::printf("damaged: %s: %llu more problems not shown\n", path.c_str(),
                static_cast<unsigned long long>(check.problems_left_out));
  std::printf("failed: %s: %llu problem(s) in %llu lines: the ledger is not a trustworthy record of the rounds\n",
              path.c_str(), static_cast<unsigned long long>(problems.size() + check.problems_left_out),
              static_cast<unsigned long long>(check.lines));
  return kExitRuntime;
}

}  // namespace

int cmd_ledger(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kLedgerUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  try {
    if (args[0] != "verify") throw ConfigError("usage: fedtrain ledger verify DIR|FILE --config FILE");
    return verify(parse_args(args));
  } catch (const Error& e) {
    return report_error(e);
  }
}

}  // namespace fedtrain
