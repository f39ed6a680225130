// Work that may crash inside a library, run in a forked child that sends back a code and a message.
#include "runtime/io/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

[[noreturn]] void fail(const char* what) { throw Error(std::string(what) + ": " + std::strerror(errno)); }

// The child's side: run body, write its message to `fd`, end without the parent's atexit
// handlers or destructors.
[[noreturn]] void child(const std::function<int(std::string&)>& body, int fd) {
  std::string message;
  int rc = kExitRuntime;
  try {
    rc = body(message);
  } catch (const Error& e) {
    message = e.what();
  }
  for (size_t done = 0; done < message.size();) {
    const ssize_t n = ::write(fd, message.data() + done, message.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(rc);
}

}  // namespace

std::string ChildOutcome::how() const {
  if (signal != 0) return "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "ended with exit code " + std::to_string(exit_code);
}

ChildOutcome run_in_child(const std::function<int(std::string& message)>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("cannot start a child process (pipe)");
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int saved = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    errno = saved;
    fail("cannot start a child process");
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(body, fds[1]);
  }
  ::close(fds[1]);
  ChildOutcome out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.message.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) fail("cannot wait for a child process");
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  else out.exit_code = WEXITSTATUS(status);
  return out;
}

}  // namespace fedtrain
