// Running work that may crash inside a library (libhdf5 on a malformed file) in a child process.
//
// libhdf5 1.10.8, Debian 12's, parses a file's metadata before fedtrain can check any of it,
// and dies on some malformed files (docs/security.md, "Files that crash libhdf5"). A reader of
// files from elsewhere can do that work in a child (fork, no exec, no MPI in the child): a
// child killed by a signal, or ended by a sanitizer report, is the file's failure and not the
// end of the process that asked.
#pragma once

#include <functional>
#include <string>

namespace fedtrain {

struct ChildOutcome {
  int exit_code = 0;    // of body(), when the child ended by itself
  int signal = 0;       // non-zero: the child was killed by this signal
  std::string message;  // what body() left in its argument (sent back through a pipe)
  // Killed, or an exit code that body() never gives (a sanitizer report exits 86).
  bool crashed(int max_exit_code) const { return signal != 0 || exit_code < 0 || exit_code > max_exit_code; }
  // "was killed by signal 11 (Segmentation fault)" or "ended with exit code 86".
  std::string how() const;
};

// Runs `body` in a forked child and waits for it; body's return value is the child's exit code
// (an Error escaping it exits 1) and the text it leaves in its argument comes back as `message`.
// stdout and stderr are flushed first, so nothing is written twice. The child must not use MPI.
// Throws Error when the child cannot be started or waited for.
ChildOutcome run_in_child(const std::function<int(std::string& message)>& body);

}  // namespace fedtrain
