// An in-memory file with a path, and a temporary directory, for the fuzz targets.
#include "tests/fuzz/fuzz_support.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace fedtrain::fuzz {
namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz: %s: %s\n", what.c_str(), std::strerror(errno));
  std::abort();
}

// Folders made by temp_dir, removed at exit.
std::vector<std::string>& made_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

void remove_made_dirs() {
  for (const std::string& d : made_dirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}

}  // namespace

MemFile::MemFile(const char* name) {
  fd_ = memfd_create(name, MFD_CLOEXEC);
  if (fd_ < 0) die("memfd_create");
  path_ = "/proc/self/fd/" + std::to_string(fd_);
}

MemFile::~MemFile() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string& MemFile::hold(const uint8_t* data, size_t bytes) {
  if (::ftruncate(fd_, 0) != 0) die("ftruncate");
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pwrite(fd_, data + done, bytes - done, static_cast<off_t>(done));
    if (n <= 0) die("pwrite");
    done += static_cast<size_t>(n);
  }
  return path_;
}

std::string temp_dir(const char* prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp " + templ);
  if (made_dirs().empty()) std::atexit(remove_made_dirs);
  made_dirs().push_back(templ);
  return templ;
}

}  // namespace fedtrain::fuzz
