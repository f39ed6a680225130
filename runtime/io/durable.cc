// Making files durable.
#include "runtime/io/durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error("cannot " + what + " '" + path + "': " + std::strerror(errno));
}

void sync_fd_of(const std::string& path, int flags, bool data_only, const char* what) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail(std::string("open for ") + what, path);
  const int rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) fail(what, path);
}

}  // namespace

void sync_file(const std::string& path, bool data_only) { sync_fd_of(path, O_RDONLY, data_only, "fsync"); }

void sync_directory(const std::string& dir) {
  sync_fd_of(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY, false, "fsync the directory");
}

void rename_durably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("rename '" + from + "' to", to);
  sync_directory(std::filesystem::path(to).parent_path().string());
}

EarlyWriteback::EarlyWriteback(const std::string& path) {
#ifdef __linux__
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
#else
  (void)path;
#endif
}

EarlyWriteback::~EarlyWriteback() {
  if (fd_ >= 0) ::close(fd_);
}

void EarlyWriteback::start() {
#ifdef __linux__
  if (fd_ >= 0) (void)::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
}

}  // namespace fedtrain
