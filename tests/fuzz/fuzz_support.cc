// A file that holds the input, and a temporary directory, for the fuzz targets.
#include "tests/fuzz/fuzz_support.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

// The sanitizers' runtime, where there is one (fuzz and FEDTRAIN_SANITIZE builds).
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

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

// In a child: the default action for every signal libFuzzer handles, no ASan death callback.
void plain_child() {
  for (const int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTRAP, SIGXFSZ, SIGALRM, SIGINT, SIGTERM, SIGUSR1, SIGUSR2})
    std::signal(sig, SIG_DFL);
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(nullptr);
}

}  // namespace

void plain_children() {
  static const int registered = ::pthread_atfork(nullptr, nullptr, plain_child);
  if (registered != 0) {
    errno = registered;
    die("pthread_atfork");
  }
}

InputFile::InputFile(const char* name) {
  path_ = temp_dir("fedtrain-fuzz") + "/" + name;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) die("open " + path_);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string& InputFile::hold(const uint8_t* data, size_t bytes) {
  if (::ftruncate(fd_, 0) != 0) die("ftruncate");
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pwrite(fd_, data + done, bytes - done, static_cast<off_t>(done));
    if (n <= 0) die("pwrite");
    done += static_cast<size_t>(n);
  }
  return path_;
}

void rejected(const char* target, const std::exception& e) {
  static const bool verbose = std::getenv("FEDTRAIN_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s: rejected: %s\n", target, e.what());
}

std::string temp_dir(const char* prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::error_code ec;
  const std::string base = std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : (tmp && *tmp ? tmp : "/tmp");
  std::string templ = base + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp " + templ);
  if (made_dirs().empty()) std::atexit(remove_made_dirs);
  made_dirs().push_back(templ);
  return templ;
}

}  // namespace fedtrain::fuzz
