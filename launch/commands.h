// The fedtrain subcommands. Each returns the process exit code (0 ok, 1 runtime failure, 2 bad usage/config,
// 3 run stopped by SIGTERM/SIGUSR1 after a checkpoint).
#pragma once

#include <string>
#include <vector>

namespace fedtrain {

int cmd_run(int argc, char** argv, const std::vector<std::string>& args);
int cmd_data(const std::vector<std::string>& args);
int cmd_data_text(const std::vector<std::string>& args);  // fedtrain data text ...
int cmd_config(const std::vector<std::string>& args);
int cmd_keygen(const std::vector<std::string>& args);
int cmd_bench(int argc, char** argv, const std::vector<std::string>& args);
int cmd_ckpt(const std::vector<std::string>& args);
int cmd_generate(const std::vector<std::string>& args);  // fedtrain generate --checkpoint FILE --prompt TEXT
int cmd_egress(const std::vector<std::string>& args);
int cmd_ledger(const std::vector<std::string>& args);  // fedtrain ledger verify DIR|FILE --config FILE

// Runs `body` inside an MPI session and maps what it throws to an exit code:
// collective errors are reported once (world rank 0) and end the job cleanly;
// any other error is reported by its rank and aborts the job with MPI_Abort,
// so no rank is left waiting in a collective.
int with_mpi(int argc, char** argv, int (*body)(void*), void* arg);

// "fedtrain: error: ..." on stderr; returns the error's exit code.
int report_error(const std::exception& e);

}  // namespace fedtrain
