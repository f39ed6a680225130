// A site's checkpoint directory.
#include "runtime/checkpoint/checkpoint_store.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "runtime/core/error.h"
#include "runtime/io/durable.h"

namespace fs = std::filesystem;

namespace fedtrain {
namespace {

constexpr int kRoundDigits = 6;

std::vector<fs::directory_entry> entries(const std::string& dir) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    throw Error("cannot list checkpoint directory '" + dir + "': " + ec.message());
  }
  for (const auto& e : it) out.push_back(e);
  return out;
}

void remove_file(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) throw Error("cannot remove '" + path + "': " + ec.message());
}

}  // namespace

int64_t checkpoint_round_of(const std::string& name, bool temporary) {
  const std::string prefix = "round-", suffix = temporary ? ".h5.tmp" : ".h5";
  if (name.size() < prefix.size() + kRoundDigits + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

CheckpointStore::CheckpointStore(std::string dir) : dir_(std::move(dir)) {}

std::string CheckpointStore::path_of(int64_t round) const {
  char name[40];
  std::snprintf(name, sizeof name, "round-%0*lld.h5", kRoundDigits, static_cast<long long>(round));
  return (fs::path(dir_) / name).string();
}

void CheckpointStore::prepare() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_))
    throw Error("cannot create checkpoint directory '" + dir_ + "'" + (ec ? ": " + ec.message() : "") +
                "; check [site.NAME] checkpoint_dir");
}

std::string CheckpointStore::write(const Checkpoint& ckpt, const WriteProgress& progress) const {
  const std::string path = path_of(ckpt.round), tmp = path + ".tmp";
  try {
    write_checkpoint_file(tmp, ckpt, progress);
    rename_durably(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  return path;
}

std::vector<int64_t> CheckpointStore::rounds() const {
  std::vector<int64_t> out;
  for (const auto& e : entries(dir_)) {
    const int64_t r = checkpoint_round_of(e.path().filename().string());
    std::error_code ec;
    if (r >= 0 && e.is_regular_file(ec)) out.push_back(r);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

std::vector<std::string> CheckpointStore::remove_temporaries() const {
  std::vector<std::string> removed;
  for (const auto& e : entries(dir_)) {
    if (checkpoint_round_of(e.path().filename().string(), /*temporary=*/true) < 0) continue;
    remove_file(e.path().string());
    removed.push_back(e.path().string());
  }
  if (!removed.empty()) sync_directory(dir_);
  return removed;
}

std::vector<std::string> CheckpointStore::prune(int64_t current, int keep) const {
  std::vector<std::string> removed;
  int kept = 0;
  for (int64_t r : rounds()) {  // newest first
    if (r <= current && kept < keep) {
      ++kept;
      continue;
    }
    remove_file(path_of(r));
    removed.push_back(path_of(r));
  }
  if (!removed.empty()) sync_directory(dir_);
  return removed;
}

}  // namespace fedtrain
