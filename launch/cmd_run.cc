// fedtrain run: parse and check the config (no MPI yet), then train.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "launch/commands.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/injection.h"
#include "runtime/federation/secure_setup.h"
#include "runtime/core/log.h"
#include "runtime/federation/job.h"
#include "runtime/topology/topology.h"

namespace fedtrain {
namespace {

const char* kRunUsage =
    "usage: mpirun -n N fedtrain run --config FILE [--site NAME] [--resume] [--section.key=value ...]\n"
    "\n"
    "Trains one model across the sites of the config. Sites take consecutive world\n"
    "ranks ([site.NAME] ranks = N, in the order listed), or each process names its\n"
    "site with --site NAME or FEDTRAIN_SITE (one MPMD app context per site).\n"
    "Any key below can be set in the INI file or overridden on the command line;\n"
    "--KEY= (nothing after '=') unsets KEY. Relative paths in the INI file are taken\n"
    "from the file's folder, on the command line from the working directory.\n"
    "With [site.NAME] checkpoint_dir set for every site, a run continues by itself\n"
    "from the newest round every site holds intact; --resume makes that a must.\n"
    "SIGTERM or SIGUSR1 stops the job at the next round boundary with a checkpoint.\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config, 3 stopped by\n"
    "SIGTERM/SIGUSR1 after a checkpoint (resumable; see docs/checkpoint-format.md).\n";

int run_body(void* arg) {
  const Config& config = *static_cast<const Config*>(arg);
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Topology topo = Topology::create(config, world);
  JobResult r = run_job(config, topo);
  return r.stop_signal != 0 ? kExitPreempted : kExitOk;
}

void apply_log_level(const Config& c) {
  if (c.log_level == "error") set_log_level(LogLevel::kError);
  if (c.log_level == "warn") set_log_level(LogLevel::kWarn);
  if (c.log_level == "info") set_log_level(LogLevel::kInfo);
  if (c.log_level == "debug") set_log_level(LogLevel::kDebug);
}

}  // namespace

int cmd_run(int argc, char** argv, const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("%s%s", kRunUsage, config_help().c_str());
      return kExitOk;
    }
  }
  Config config;
  try {
    const char* env_site = std::getenv("FEDTRAIN_SITE");
    config = load_config(args, env_site ? env_site : "");
    check_exchange_config(config);
    parse_injections(config.inject);
  } catch (const Error& e) {
    return report_error(e);  // before MPI_Init: every rank reports and exits 2
  }
  apply_log_level(config);
  return with_mpi(argc, argv, run_body, &config);
}

}  // namespace fedtrain
