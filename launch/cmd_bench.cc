// fedtrain bench: dispatch to the benchmarks in bench/.
#include <cstdio>

#include "fedtrain/features.h"
#include "launch/commands.h"
#include "runtime/core/error.h"
#if FEDTRAIN_WITH_BENCH
#include "bench/bench.h"
#endif

namespace fedtrain {
namespace {

const char* kBenchUsage =
    "usage: fedtrain bench <allreduce|secagg|train|checkpoint> [options]   ('fedtrain bench NAME --help' for options)\n"
    "  allreduce  nccl-tests style table of the runtime's all-reduce on site_comm and leaders_comm\n"
    "             beside raw MPI_Allreduce on the same communicator (run under mpirun)\n"
    "  secagg     the secure exchange between site leaders beside plaintext MPI_Allreduce (run under mpirun)\n"
    "  train      training samples/s of the MLP next to the sgemm rate of the same shapes\n"
    "             (--device cuda: on GPU 0, next to cuBLAS and the GPU's FP32 SGEMM rate)\n"
    "  checkpoint checkpoint writes (HDF5, hashes, fsync, rename) next to a raw write+fsync of the same bytes\n";

#if FEDTRAIN_WITH_BENCH
struct BenchArgs {
  std::vector<std::string> args;
};
int allreduce_body(void* p) { return bench_allreduce(static_cast<BenchArgs*>(p)->args); }
int secagg_body(void* p) { return bench_secagg(static_cast<BenchArgs*>(p)->args); }
#endif

}  // namespace

int cmd_bench(int argc, char** argv, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kBenchUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
#if FEDTRAIN_WITH_BENCH
  BenchArgs rest{std::vector<std::string>(args.begin() + 1, args.end())};
  if (args[0] == "allreduce") return with_mpi(argc, argv, allreduce_body, &rest);
  if (args[0] == "secagg") return with_mpi(argc, argv, secagg_body, &rest);
  if (args[0] == "train" || args[0] == "checkpoint") {
    try {
      return args[0] == "train" ? bench_train(rest.args) : bench_checkpoint(rest.args);
    } catch (const std::exception& e) {
      return report_error(e);
    }
  }
  std::fprintf(stderr, "fedtrain: error: unknown benchmark '%s'\n%s", args[0].c_str(), kBenchUsage);
  return kExitUsage;
#else
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "fedtrain: error: this fedtrain was built with FEDTRAIN_BUILD_BENCH=OFF\n");
  return kExitUsage;
#endif
}

}  // namespace fedtrain
