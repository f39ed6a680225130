// A site's ledger file.
#include "runtime/ledger/ledger_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/io/append_only.h"
#include "runtime/io/durable.h"

namespace fedtrain {
namespace {

void write_all(int fd, const char* data, size_t bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::write(fd, data + done, bytes - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot write '" + path + "': " + std::strerror(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
}

void fsync_or_throw(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw Error("cannot fsync '" + path + "': " + std::strerror(errno));
}

}  // namespace

LedgerFile::LedgerFile(const std::string& path, const std::string& job, const SigningManifest& keys)
    : path_(path), genesis_(ledger_genesis(job, keys.hash)), head_(genesis_) {
  off_t bytes = 0;
  fd_ = open_append_only(path_, "ledger", "ledger", &bytes);
  try {
    if (bytes == 0) {
      sync_directory(std::filesystem::path(path_).parent_path().string());  // the new name lasts
      return;
    }
    LedgerCheck check = check_ledger(fd_, path_, keys, {job, /*every_signature=*/false});
    if (!check.intact()) {
      const LedgerProblem& first = check.problems.front();
      throw Error("ledger '" + path_ + "' is damaged (line " + std::to_string(first.line) + " " + first.what +
                  "), so its chain cannot be continued. 'fedtrain ledger verify " + path_ +
                  " --config FILE' lists every problem; keep the file as evidence and set [site.NAME] ledger to a new "
                  "path (on every site: their chains must agree)");
    }
    head_ = check.head;
    entries_ = std::move(check.entries);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

LedgerFile::~LedgerFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t LedgerFile::roll_back_to(uint64_t round) {
  size_t keep = entries_.size();
  while (keep > 0 && entries_[keep - 1].round > round) --keep;
  if (keep == entries_.size()) return 0;
  const uint64_t cut = keep == 0 ? 0 : entries_[keep - 1].end_offset;
  const uint64_t end = entries_.back().end_offset;

  // 1. The lines after the cut, appended to PATH.discarded and made durable.
  std::vector<char> tail(end - cut);
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(fd_, tail.data() + got, tail.size() - got, static_cast<off_t>(cut + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error("cannot read ledger '" + path_ + "': " + std::strerror(n < 0 ? errno : EIO));
    got += static_cast<size_t>(n);
  }
  const std::string discarded = path_ + ".discarded";
  off_t ignored = 0;
  const int out = open_append_only(discarded, "discarded ledger records file", "ledger", &ignored);
  try {
    write_all(out, tail.data(), tail.size(), discarded);
    fsync_or_throw(out, discarded);
  } catch (...) {
    ::close(out);
    throw;
  }
  ::close(out);

  // 2. Only then cut them from the ledger.
  if (::ftruncate(fd_, static_cast<off_t>(cut)) != 0)
    throw Error("cannot cut ledger '" + path_ + "' back: " + std::strerror(errno));
  fsync_or_throw(fd_, path_);
  const size_t removed = entries_.size() - keep;
  entries_.resize(keep);
  head_ = keep == 0 ? genesis_ : entries_.back().hash;
  return removed;
}

void LedgerFile::append(const LedgerRecord& r) {
  FT_CHECK(r.prev == head_, "ledger record of round " << r.round << " does not chain to the ledger's head");
  const std::string line = format_ledger_line(r);
  write_all(fd_, line.data(), line.size(), path_);
  fsync_or_throw(fd_, path_);
  const uint64_t end = (entries_.empty() ? 0 : entries_.back().end_offset) + line.size();
  head_ = sha256(line.data(), line.size());
  entries_.push_back({entries_.size() + 1, r.round, r.attempt, r.model, end, head_});
}

}  // namespace fedtrain
