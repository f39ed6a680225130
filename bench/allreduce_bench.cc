// fedtrain bench allreduce: the runtime's all-reduce beside raw MPI_Allreduce, nccl-tests style.
//
// For site_comm (every site at once, as in training) and then leaders_comm,
// for sizes from --min-bytes to --max-bytes (doubling), in place, float sum:
//   1. correctness: inputs (rank+1) + (i mod 13) whose sums are exact in
//      float; #wrong counts elements that differ from the closed form;
//   2. timing: fedtrain's Collectives::allreduce_sum and raw MPI_Allreduce
//      alternate, one barrier-aligned call at a time, so machine noise hits
//      both alike; time is the median over iterations of the slowest rank.
// algbw = bytes / time; busbw = algbw * 2(n-1)/n (nccl-tests' definition:
// the per-link traffic of a bandwidth-optimal all-reduce).
#include <mpi.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "bench/bench.h"
#include "runtime/collectives/collectives.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/topology/mpi_check.h"
#include "runtime/topology/topology.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

size_t parse_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit(end);
  double mult = unit.empty() || unit == "B" ? 1 : unit == "K" || unit == "KiB" ? 1024.0
                : unit == "M" || unit == "MiB" ? 1024.0 * 1024 : unit == "G" || unit == "GiB" ? 1024.0 * 1024 * 1024 : -1;
  if (end == s.c_str() || mult < 0 || v <= 0)
    throw ConfigError("bench allreduce: size '" + s + "' is not a size like 4K, 64M or 1G", true);
  return static_cast<size_t>(v * mult);
}

struct Row {
  double time_us[2];
  long wrong[2];
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One size on one communicator; collective over `comm`.
Row measure(Collectives& coll, MPI_Comm comm, std::vector<float>& buf, size_t count, int iters, int warmup) {
  const int n = coll.size(), rank = coll.rank();
  std::span<float> data(buf.data(), count);
  Row row{};
  // 1. Correctness of both paths.
  for (int impl = 0; impl < 2; ++impl) {
    for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(rank + 1 + static_cast<int>(i % 13));
    if (impl == 0) coll.allreduce_sum(data);
    else MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm));
    long wrong = 0;
    for (size_t i = 0; i < count; ++i)
      wrong += data[i] != static_cast<float>(n * (n + 1) / 2 + n * static_cast<int>(i % 13));
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG, MPI_SUM, comm));
    row.wrong[impl] = wrong;
  }
  // 2. Timing, alternating the two paths call by call.
  std::fill(data.begin(), data.end(), 0.0f);
  std::vector<double> t[2];
  for (int it = 0; it < warmup + iters; ++it) {
    for (int k = 0; k < 2; ++k) {
      const int impl = (it + k) % 2;
      MPI_CHECK(MPI_Barrier(comm));
      const double start = MPI_Wtime();
      if (impl == 0) coll.allreduce_sum(data);
      else MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm));
      const double elapsed = MPI_Wtime() - start;
      if (it >= warmup) t[impl].push_back(elapsed);
    }
  }
  for (int impl = 0; impl < 2; ++impl) {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t[impl].data(), static_cast<int>(t[impl].size()), MPI_DOUBLE, MPI_MAX, comm));
    row.time_us[impl] = median(t[impl]) * 1e6;
  }
  return row;
}

void run_table(const char* title, const Comm& comm, bool print, size_t min_bytes, size_t max_bytes, int warmup) {
  auto coll = make_mpi_collectives(comm);
  const int n = coll->size();
  const double bus_factor = 2.0 * (n - 1) / n;
  std::vector<float> buf(max_bytes / sizeof(float));
  if (print) {
    std::printf("#\n# %s: %d ranks, float sum, in place; time is the median over iterations of the slowest rank\n", title, n);
    std::printf("#%12s %12s %6s %6s | %10s %8s %8s %6s | %10s %8s %8s %6s | %7s\n", "", "", "", "",
                "fedtrain", "", "", "", "MPI_Allreduce", "", "", "", "busbw");
    std::printf("#%12s %12s %6s %6s | %10s %8s %8s %6s | %10s %8s %8s %6s | %7s\n", "size", "count", "type", "redop",
                "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "ratio");
    std::printf("#%12s %12s %6s %6s | %10s %8s %8s %6s | %10s %8s %8s %6s | %7s\n", "(B)", "(elements)", "", "",
                "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "", "");
  }
  double worst = 1e9, sum_ratio = 0;
  int rows = 0;
  for (size_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
    const size_t count = bytes / sizeof(float);
    const int iters = static_cast<int>(std::clamp<size_t>((size_t{2} << 30) / bytes, 10, 200));
    Row r = measure(*coll, comm.get(), buf, count, iters, warmup);
    double algbw[2], busbw[2];
    for (int i = 0; i < 2; ++i) {
      algbw[i] = static_cast<double>(bytes) / (r.time_us[i] * 1e-6) / 1e9;
      busbw[i] = algbw[i] * bus_factor;
    }
    const double ratio = busbw[0] / busbw[1];
    worst = std::min(worst, ratio);
    sum_ratio += ratio;
    ++rows;
    if (print) {
      std::printf(" %12zu %12zu %6s %6s | %10.1f %8.3f %8.3f %6ld | %10.1f %8.3f %8.3f %6ld | %7.3f\n", bytes, count,
                  "float", "sum", r.time_us[0], algbw[0], busbw[0], r.wrong[0], r.time_us[1], algbw[1], busbw[1],
                  r.wrong[1], ratio);
      std::fflush(stdout);
    }
  }
  if (print)
    std::printf("# busbw ratio fedtrain/MPI_Allreduce: mean %.3f, worst %.3f over %d sizes\n", sum_ratio / rows, worst, rows);
}

}  // namespace

int bench_allreduce(const std::vector<std::string>& args) {
  std::string min_s = "4K", max_s = "256M";
  int ranks_per_site = 0, warmup = 3;
  std::vector<std::string> config_args;
  po::options_description desc("fedtrain bench allreduce options");
  desc.add_options()("help,h", "this help")
      ("min-bytes", po::value(&min_s)->default_value(min_s), "smallest message (4K, 1M, ...)")
      ("max-bytes", po::value(&max_s)->default_value(max_s), "largest message")
      ("warmup", po::value(&warmup)->default_value(warmup), "untimed calls per size and path")
      ("ranks-per-site", po::value(&ranks_per_site)->default_value(0),
       "site layout without a config: blocks of N ranks (default: two sites of half the world)");
  po::variables_map vm;
  try {
    auto parsed = po::command_line_parser(args).options(desc).allow_unregistered().run();
    po::store(parsed, vm);
    po::notify(vm);
    config_args = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    throw ConfigError(std::string("bench allreduce: ") + e.what(), true);
  }
  int world_rank = 0, world_size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  if (vm.count("help")) {
    if (world_rank == 0) {
      std::printf("usage: mpirun -n N fedtrain bench allreduce [--config FILE | --ranks-per-site N] [options]\n\n");
      std::cout << desc;
    }
    return kExitOk;
  }
  const size_t min_bytes = parse_size(min_s), max_bytes = parse_size(max_s);
  if (min_bytes < sizeof(float) || min_bytes > max_bytes || max_bytes / sizeof(float) > (size_t{1} << 31) - 1)
    throw ConfigError("bench allreduce: need 4 B <= --min-bytes <= --max-bytes < 8 GiB", true);

  Config config;
  if (!config_args.empty()) {
    try {
      config = load_config(config_args, "");
    } catch (const ConfigError& e) {
      throw ConfigError(e.what(), true);
    }
  } else {
    const int per_site = ranks_per_site > 0 ? ranks_per_site : std::max(1, world_size / 2);
    if (world_size % per_site != 0)
      throw ConfigError("bench allreduce: " + std::to_string(world_size) + " ranks do not split into sites of " +
                            std::to_string(per_site) + "; pass --ranks-per-site or --config",
                        true);
    for (int s = 0; s < world_size / per_site; ++s) config.sites.push_back({"site" + std::to_string(s), per_site, ""});
  }
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Topology topo = Topology::create(config, world);
  if (world_rank == 0)
    std::printf("# fedtrain bench allreduce: %d ranks, sites %s\n", topo.world_size(), topo.describe().c_str());

  if (topo.site_size() > 1 || topo.world_rank() == 0) {
    std::string title = "site_comm of site " + topo.site_name() + " (all sites run at once)";
    if (topo.site_size() > 1) run_table(title.c_str(), topo.site_comm(), world_rank == 0, min_bytes, max_bytes, warmup);
    else if (world_rank == 0) std::printf("#\n# site_comm: one rank per site, nothing to reduce\n");
  }
  MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  if (topo.is_leader() && topo.n_sites() > 1)
    run_table("leaders_comm (one leader per site)", topo.leaders_comm(), world_rank == 0, min_bytes, max_bytes, warmup);
  MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  return kExitOk;
}

}  // namespace fedtrain
