// Rank-aware logging to stderr: every line says which rank of which site wrote it.
//
// The process label ("rank 3, site de") is the one piece of process-wide state
// in fedtrain: it is set once when the topology is known, so that log lines and
// FT_CHECK failures from any layer can name the rank without threading a
// context through every function.
#pragma once

#include <string>

namespace fedtrain {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_process_label(const std::string& label);
const std::string& process_label();
void set_log_level(LogLevel level);
LogLevel log_level();

// One line to stderr: "fedtrain[rank 3, site de] warning: message".
void log_line(LogLevel level, const std::string& message);
inline void log_info(const std::string& m) { log_line(LogLevel::kInfo, m); }
inline void log_warn(const std::string& m) { log_line(LogLevel::kWarn, m); }
inline void log_error(const std::string& m) { log_line(LogLevel::kError, m); }
inline void log_debug(const std::string& m) { log_line(LogLevel::kDebug, m); }

}  // namespace fedtrain
