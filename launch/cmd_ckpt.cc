// fedtrain ckpt: look into checkpoint files (inspect) and check them (verify), without MPI.
//
// Each file is read in a child process (fork, no exec): libhdf5 1.10.8, Debian 12's, can crash
// on a malformed file before fedtrain sees any of it (docs/security.md, "Files that crash
// libhdf5"). A child that dies reports that file as failed, naming the signal, and the command
// goes on with the next file and exits 1, instead of dying itself.
#include <cstdio>
#include <filesystem>
#include <string>

#include "launch/commands.h"
#include "runtime/checkpoint/checkpoint_file.h"
#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/core/error.h"
#include "runtime/io/child_process.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

const char* kCkptUsage =
    "usage: fedtrain ckpt inspect FILE        round, job, sites, config, and every dataset with its\n"
    "                                        type, shape, recorded SHA-256 and file offset\n"
    "       fedtrain ckpt verify FILE|DIR     checks every hash, attribute and the structure of one\n"
    "                                        checkpoint, or of every round-NNNNNN.h5 in DIR\n"
    "Exit codes: 0 ok, 1 a checkpoint is damaged or unreadable (the reason is printed), 2 bad usage.\n"
    "The files are plain HDF5: h5ls -r FILE and h5dump FILE show them too (docs/checkpoint-format.md).\n";

// What to say of a file whose reader crashed.
std::string crashed(const std::string& path, const ChildOutcome& child) {
  return "checkpoint '" + path + "': the process reading it " + child.how() +
         ": libhdf5 crashes on some malformed files (docs/security.md), so the file is damaged or forged; "
         "do not load it (h5dump or h5py may crash on it too)";
}

std::string shape_text(const std::vector<size_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

int inspect_here(const std::string& path) {
  const CheckpointListing l = list_checkpoint_file(path);
  std::printf("checkpoint %s\n", path.c_str());
  std::string config;
  for (const auto& [name, value] : l.attributes) {
    if (name == "config") {
      config = value;
      continue;
    }
    if (name == "attributes_sha256") continue;  // one line per attribute: shown by verify when one fails
    std::printf("  %-16s %s\n", name.c_str(), value.empty() ? "\"\"" : value.c_str());
  }
  std::printf("datasets (path, type, shape, recorded sha256, data offset in the file):\n");
  for (const auto& d : l.datasets) {
    std::printf("  %-44s %-8s %-12s %s %lld\n", d.path.c_str(), d.type.c_str(), shape_text(d.shape).c_str(),
                d.sha256.empty() ? "(no sha256)" : d.sha256.c_str(), static_cast<long long>(d.offset_bytes));
  }
  std::printf("config:\n");
  size_t pos = 0;
  while (pos < config.size()) {
    size_t nl = config.find('\n', pos);
    if (nl == std::string::npos) nl = config.size();
    std::printf("  %s\n", config.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
  return kExitOk;
}

int inspect(const std::string& path) {
  const ChildOutcome child = run_in_child([&](std::string&) {
    try {
      return inspect_here(path);
    } catch (const Error& e) {
      return report_error(e);
    }
  });
  if (child.crashed(kExitUsage)) throw Error(crashed(path, child));
  return child.exit_code;
}

// One file: "ok: ..." or "failed: reason". Returns whether it is intact.
bool verify_file_here(const std::string& path) {
  try {
    const Checkpoint c = read_checkpoint_file(path);
    std::printf("ok: %s: job %s, round %lld, site %s of %zu, %zu parameters, %zu ranks\n", path.c_str(),
                c.job_id.c_str(), static_cast<long long>(c.round), c.site.c_str(), c.sites.size(), c.model.size(),
                c.data.size());
    return true;
  } catch (const Error& e) {
    std::printf("failed: %s\n", e.what());
    return false;
  }
}

bool verify_file(const std::string& path) {
  const ChildOutcome child = run_in_child([&](std::string&) { return verify_file_here(path) ? kExitOk : kExitRuntime; });
  if (!child.crashed(kExitRuntime)) return child.exit_code == kExitOk;
  std::printf("failed: %s\n", crashed(path, child).c_str());
  return false;
}

int verify(const std::string& target) {
  std::error_code ec;
  if (!fs::is_directory(target, ec)) {
    if (!fs::exists(target, ec)) throw Error("'" + target + "' does not exist: give a checkpoint file or directory");
    return verify_file(target) ? kExitOk : kExitRuntime;
  }
  CheckpointStore store(target);
  const std::vector<int64_t> rounds = store.rounds();
  bool all_ok = !rounds.empty();
  for (int64_t r : rounds) all_ok = verify_file(store.path_of(r)) && all_ok;
  for (const auto& e : fs::directory_iterator(target)) {
    if (checkpoint_round_of(e.path().filename().string(), /*temporary=*/true) >= 0)
      std::printf("ignored: %s: an unfinished write (the next run removes it)\n", e.path().string().c_str());
  }
  if (rounds.empty()) std::printf("failed: no round-NNNNNN.h5 checkpoint in '%s'\n", target.c_str());
  return all_ok ? kExitOk : kExitRuntime;
}

}  // namespace

int cmd_ckpt(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kCkptUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  try {
    if (args.size() != 2 || (args[0] != "inspect" && args[0] != "verify"))
      throw ConfigError("usage: fedtrain ckpt inspect FILE | fedtrain ckpt verify FILE|DIR");
    return args[0] == "inspect" ? inspect(args[1]) : verify(args[1]);
  } catch (const Error& e) {
    return report_error(e);
  }
}

}  // namespace fedtrain
