// Reading an HDF5 file in a child process first: a libhdf5 crash there is an error naming the file.
#include "runtime/io/guarded_read.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "runtime/core/error.h"
#include "runtime/io/child_process.h"

namespace fedtrain {

void check_in_child(const std::string& what, const std::string& what_to_do, const std::function<void()>& read) {
  const ChildOutcome child = run_in_child([&](std::string& message) {
    try {
      read();
      return kExitOk;
    } catch (const Error& e) {
      message = e.what();
      return e.exit_code();
    } catch (const std::exception& e) {  // bad_alloc, length_error: the same in this process, not a crash
      message = what + " cannot be read: " + e.what();
      return kExitRuntime;
    }
  });
  // A child that failed without a word did not get to report: a sanitizer's report ended it.
  if (child.crashed(kExitUsage) || (child.exit_code != kExitOk && child.message.empty())) {
    const std::string how = child.signal != 0 ? "killed by signal " + std::to_string(child.signal) + " (" +
                                                    strsignal(child.signal) + ")"
                                              : "ended with exit code " + std::to_string(child.exit_code) +
                                                    " and no message (a sanitizer report, in a sanitizer build)";
    throw Error(what + ": libhdf5 crashed reading it: " + how +
                ". The file is damaged or forged (libhdf5 1.10.8 dies on some malformed files; it was read in a "
                "child process, so nothing else was lost): " + what_to_do);
  }
  if (child.exit_code == kExitUsage) throw ConfigError(child.message);
  if (child.exit_code != kExitOk) throw Error(child.message, child.exit_code);
}

}  // namespace fedtrain
