// Errors the user or the world can cause, each mapped to the process exit code.
//
// A ConfigError (bad usage, bad config, bad key file) exits 2 and is found
// before any training; every other Error exits 1. Broken invariants are not
// errors: they go through FT_CHECK in check.h.
#pragma once

#include <stdexcept>
#include <string>

namespace fedtrain {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;
// Stopped on request (SIGTERM, SIGUSR1) at a round boundary after writing a
// checkpoint: the job can be resumed (e.g. requeued by Slurm) without loss.
inline constexpr int kExitPreempted = 3;

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, int exit_code = kExitRuntime, bool collective = false)
      : std::runtime_error(what), exit_code_(exit_code), collective_(collective) {}
  int exit_code() const { return exit_code_; }
  // Raised identically on every rank (e.g. a layout check after an allgather):
  // rank 0 alone reports it and the job ends cleanly instead of aborting.
  bool collective() const { return collective_; }

 private:
  int exit_code_;
  bool collective_;
};

// Bad command line or config: names the key and what is allowed.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& what, bool collective = false) : Error(what, kExitUsage, collective) {}
};

}  // namespace fedtrain
