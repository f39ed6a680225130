// fedtrain command-line entry: run | data | config | keygen | ckpt | generate | egress | ledger | bench | version.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fedtrain/features.h"
#include "kernels/cpu/blas_core.h"
#include "launch/commands.h"
#include "runtime/core/error.h"
#if FEDTRAIN_WITH_CUDA
#include "kernels/cuda/device.h"
#endif

namespace {

const char* kUsage =
    "usage: fedtrain <command> [options]\n"
    "\n"
    "commands:\n"
    "  run      train a federation:  mpirun -n 4 fedtrain run --config configs/quickstart.ini [--section.key=value ...]\n"
    "  data     prepare per-site shards:  fedtrain data fashion-mnist --out DIR --sites es,de [--partition iid|dirichlet]\n"
    "           or text corpora:          fedtrain data text --out DIR --sites es,de,fr,it [--text es=FILE,...]\n"
    "  keygen   a site's key pairs (secure aggregation, ledger signing):  fedtrain keygen --site es --out keys/\n"
    "  config   check a config and print it resolved (or its world size)\n"
    "  ckpt     look into checkpoints:  fedtrain ckpt inspect FILE | fedtrain ckpt verify FILE|DIR\n"
    "  generate continue a prompt with the GPT of a checkpoint:  fedtrain generate --checkpoint FILE --prompt TEXT\n"
    "  egress   check a site's egress log:  fedtrain egress verify FILE\n"
    "  ledger   check a site's signed ledger of rounds:  fedtrain ledger verify DIR|FILE --config FILE\n"
    "  bench    benchmarks: allreduce | secagg | train | checkpoint\n"
    "  version  version and build features\n"
    "\n"
    "'fedtrain <command> --help' describes each command.\n";

// OpenBLAS chooses its kernels when it loads; if it fell back to generic ones
// on a CPU it does not recognise, start again with OPENBLAS_CORETYPE set
// (before MPI_Init, so launchers see one process). See kernels/cpu/blas_core.h.
void restart_with_fitting_blas_core(char** argv) {
  auto core = fedtrain::kernels::cpu::blas_core_override();
  if (!core) return;
  setenv("OPENBLAS_CORETYPE", core->c_str(), 1);
  setenv("FEDTRAIN_BLAS_CORE_SET", "1", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the generic kernels
}

// "gpus: 1 visible" or "gpus: none visible (why)"; empty without CUDA.
std::string gpu_line() {
#if FEDTRAIN_WITH_CUDA
  std::string why;
  const int n = fedtrain::kernels::cuda::device_count(&why);
  return n > 0 ? "gpus: " + std::to_string(n) + " visible\n" : "gpus: none visible (" + why + ")\n";
#else
  return "";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_fitting_blas_core(argv);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? fedtrain::kExitUsage : fedtrain::kExitOk;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "run") return fedtrain::cmd_run(argc, argv, args);
  if (command == "data") return fedtrain::cmd_data(args);
  if (command == "config") return fedtrain::cmd_config(args);
  if (command == "keygen") return fedtrain::cmd_keygen(args);
  if (command == "ckpt") return fedtrain::cmd_ckpt(args);
  if (command == "generate") return fedtrain::cmd_generate(args);
  if (command == "egress") return fedtrain::cmd_egress(args);
  if (command == "ledger") return fedtrain::cmd_ledger(args);
  if (command == "bench") return fedtrain::cmd_bench(argc, argv, args);
  if (command == "version" || command == "--version") {
    std::printf("fedtrain %s (cuda %s, nccl %s)\nkernels: %s%s\n%s", FEDTRAIN_VERSION, FEDTRAIN_WITH_CUDA ? "on" : "off",
                FEDTRAIN_WITH_NCCL ? "on" : "off", fedtrain::kernels::cpu::blas_description().c_str(),
                std::getenv("FEDTRAIN_BLAS_CORE_SET") ? " (OPENBLAS_CORETYPE set by fedtrain: OpenBLAS did not recognise this CPU)" : "",
                gpu_line().c_str());
    return fedtrain::kExitOk;
  }
  std::fprintf(stderr, "fedtrain: error: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return fedtrain::kExitUsage;
}
