// Rank-aware logging and the FT_CHECK failure path.
#include "runtime/core/log.h"

#include <mpi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "runtime/core/check.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {
std::string g_label;  // set once per process; see log.h for why this is not passed around
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error: ";
    case LogLevel::kWarn: return "warning: ";
    case LogLevel::kInfo: return "";
    case LogLevel::kDebug: return "debug: ";
  }
  return "";
}
}  // namespace

void set_process_label(const std::string& label) { g_label = label; }
const std::string& process_label() { return g_label; }
void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log_line(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) > g_level.load()) return;
  std::string line = "fedtrain";
  if (!g_label.empty()) line += "[" + g_label + "]";
  line += ": ";
  line += level_name(level);
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

namespace detail {
void check_failed(const char* condition, const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "fedtrain[%s]: internal error: check failed: %s at %s:%d%s%s\n",
               g_label.empty() ? "?" : g_label.c_str(), condition, file, line,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
  std::abort();
}
}  // namespace detail

}  // namespace fedtrain
