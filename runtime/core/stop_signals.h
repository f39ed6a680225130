// SIGTERM and SIGUSR1 turned into a stop request that the job reads at round boundaries.
//
// Batch systems announce the end of a job with a signal (Slurm: SIGTERM at the
// time limit, or the signal of --signal=USR1@SECONDS before it; Open MPI's
// mpirun forwards SIGUSR1 to every rank). The handler only records which
// signal came, which is async-signal-safe; the round driver asks at the end of
// each round, the ranks agree over the world (a signal may reach only some of
// them), write that round's checkpoint and exit with kExitPreempted (3).
// A second SIGTERM ends the process at once, as SIGTERM normally does.
//
// The recorded signal is process-wide state (a handler can reach nothing
// else): the second exception to "no globals", next to the log label.
#pragma once

#include <csignal>
#include <string>

namespace fedtrain {

class StopSignals {
 public:
  // Installs the handlers; the previous ones come back on destruction.
  // One instance at a time per process.
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal that asked this process to stop (SIGTERM or SIGUSR1), 0 if none.
  int requested() const;

 private:
  struct sigaction old_term_{}, old_usr1_{};
};

// "SIGUSR1", "SIGTERM", or "signal N".
std::string signal_name(int signal);

}  // namespace fedtrain
