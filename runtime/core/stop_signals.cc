// SIGTERM and SIGUSR1 turned into a stop request.
#include "runtime/core/stop_signals.h"

#include "runtime/core/check.h"

namespace fedtrain {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;  // see stop_signals.h for why this is process-wide

extern "C" void on_stop_signal(int sig) {
  if (sig == SIGTERM && g_stop_signal == SIGTERM) {
    // Asked twice: stop now, the default way.
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGTERM);
    return;
  }
  g_stop_signal = sig;
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // system calls in flight (file writes, MPI progress) carry on
  FT_CHECK(sigaction(SIGTERM, &sa, &old_term_) == 0);
  FT_CHECK(sigaction(SIGUSR1, &sa, &old_usr1_) == 0);
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &old_term_, nullptr);
  sigaction(SIGUSR1, &old_usr1_, nullptr);
}

int StopSignals::requested() const { return g_stop_signal; }

std::string signal_name(int signal) {
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGUSR1) return "SIGUSR1";
  if (signal == SIGINT) return "SIGINT";
  return "signal " + std::to_string(signal);
}

}  // namespace fedtrain
