// fedtrain bench allreduce: the runtime's all-reduce beside raw MPI_Allreduce, nccl-tests style.
//
// For the site_comm of every site with 2 or more ranks, then leaders_comm,
// for sizes from --min-bytes to --max-bytes (doubling), in place, float sum,
// one communicator at a time while every other rank sleeps:
//   1. correctness: inputs (rank+1) + (i mod 13) whose sums are exact in
//      float; #wrong counts elements that differ from the closed form;
//   2. timing: fedtrain's Collectives::allreduce_sum and raw MPI_Allreduce
//      alternate, one barrier-aligned call at a time, so machine noise hits
//      both alike; time is the median over iterations of the slowest rank.
// --transport tcp: the leaders' table runs fedtrain's ring all-reduce over the
// TCP leader transport on 127.0.0.1 (transport_allreduce.h, the path of one job
// per site) beside MPI_Allreduce on leaders_comm; run it under
// `mpirun --mca btl tcp,self` to compare with Open MPI's TCP transport.
// algbw = bytes / time; busbw = algbw * 2(n-1)/n (nccl-tests' definition:
// the per-link traffic of a bandwidth-optimal all-reduce). The busbw ratio is
// the median over iterations of t(MPI_Allreduce)/t(fedtrain) of the same
// iteration, which cancels the drift of a shared machine.
#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <vector>

#include "bench/bench.h"
#include "bench/loopback_leaders.h"
#include "runtime/collectives/collectives.h"
#include "runtime/collectives/transport_allreduce.h"
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
  double ratio;  // median over iterations of t(MPI_Allreduce) / t(fedtrain): the busbw ratio
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// One size on one communicator; collective over `comm`.
using AllreduceFn = std::function<void(std::span<float>)>;

Row measure(const AllreduceFn& ours, MPI_Comm comm, std::vector<float>& buf, size_t count, int iters, int warmup) {
  int n = 0, rank = 0;
  MPI_Comm_size(comm, &n);
  MPI_Comm_rank(comm, &rank);
  std::span<float> data(buf.data(), count);
  Row row{};
  // 1. Correctness of both paths.
  for (int impl = 0; impl < 2; ++impl) {
    for (size_t i = 0; i < count; ++i) data[i] = static_cast<float>(rank + 1 + static_cast<int>(i % 13));
    if (impl == 0) ours(data);
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
      if (impl == 0) ours(data);
      else MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm));
      const double elapsed = MPI_Wtime() - start;
      if (it >= warmup) t[impl].push_back(elapsed);
    }
  }
  for (int impl = 0; impl < 2; ++impl) {
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, t[impl].data(), static_cast<int>(t[impl].size()), MPI_DOUBLE, MPI_MAX, comm));
    row.time_us[impl] = median(t[impl]) * 1e6;
  }
  // Paired: the two calls of one iteration saw the same machine state.
  std::vector<double> ratios(t[0].size());
  for (size_t i = 0; i < ratios.size(); ++i) ratios[i] = t[1][i] / t[0][i];
  row.ratio = median(ratios);
  return row;
}

// The table of one communicator, as text (complete on the communicator's rank 0).
std::string run_table(const std::string& title, const Comm& comm, const std::string& ours_name, const AllreduceFn& ours,
                      size_t min_bytes, size_t max_bytes, int warmup, int fixed_iters) {
  const int n = comm.size();
  const double bus_factor = 2.0 * (n - 1) / n;
  std::vector<float> buf(max_bytes / sizeof(float));
  std::string out;
  char line[512];
  auto emit = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  emit("#\n# %s: %d ranks, float sum, in place; time is the median over iterations of the slowest rank\n",
       title.c_str(), n);
  emit("#%12s %12s %6s %6s | %-35s | %-35s | %7s\n", "", "", "", "", ours_name.c_str(),
       "raw MPI_Allreduce", "busbw");
  emit("#%12s %12s %6s %6s | %10s %8s %8s %6s | %10s %8s %8s %6s | %7s\n", "size", "count", "type", "redop", "time",
       "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "ratio");
  emit("#%12s %12s %6s %6s | %10s %8s %8s %6s | %10s %8s %8s %6s | %7s\n", "(B)", "(elements)", "", "", "(us)",
       "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "", "");
  double worst = 1e9, sum_ratio = 0;
  int rows = 0;
  for (size_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
    const size_t count = bytes / sizeof(float);
    const int iters =
        fixed_iters > 0 ? fixed_iters : static_cast<int>(std::clamp<size_t>((size_t{4} << 30) / bytes, 30, 200));
    Row r = measure(ours, comm.get(), buf, count, iters, warmup);
    double algbw[2], busbw[2];
    for (int i = 0; i < 2; ++i) {
      algbw[i] = static_cast<double>(bytes) / (r.time_us[i] * 1e-6) / 1e9;
      busbw[i] = algbw[i] * bus_factor;
    }
    const double ratio = r.ratio;
    worst = std::min(worst, ratio);
    sum_ratio += ratio;
    ++rows;
    emit(" %12zu %12zu %6s %6s | %10.1f %8.3f %8.3f %6ld | %10.1f %8.3f %8.3f %6ld | %7.3f\n", bytes, count, "float",
         "sum", r.time_us[0], algbw[0], busbw[0], r.wrong[0], r.time_us[1], algbw[1], busbw[1], r.wrong[1], ratio);
  }
  emit("# busbw ratio %s/MPI_Allreduce: mean %.3f, worst %.3f over %d sizes\n", ours_name.c_str(), sum_ratio / rows, worst,
       rows);
  return out;
}

// A barrier that sleeps while it waits, so idle ranks leave the cores to the ranks being measured.
void idle_barrier(MPI_Comm comm) {
  MPI_Request req;
  MPI_CHECK(MPI_Ibarrier(comm, &req));
  int done = 0;
  while (true) {
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (done) return;
    usleep(2000);
  }
}

// Runs `table` on the members of one communicator while every other rank sleeps in
// idle_barrier, and prints the text that `reporter` (a world rank) produced on world rank 0.
void measured_alone(bool member, int reporter, const std::function<std::string()>& table) {
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  std::string text;
  if (member) text = table();
  if (reporter != 0) {
    if (world_rank == reporter) {
      MPI_CHECK(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, 0, MPI_COMM_WORLD));
    } else if (world_rank == 0) {
      MPI_Status st;
      MPI_CHECK(MPI_Probe(reporter, 0, MPI_COMM_WORLD, &st));
      int len = 0;
      MPI_Get_count(&st, MPI_CHAR, &len);
      text.resize(len);
      MPI_CHECK(MPI_Recv(text.data(), len, MPI_CHAR, reporter, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    }
  }
  if (world_rank == 0) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }
  idle_barrier(MPI_COMM_WORLD);
}

}  // namespace

int bench_allreduce(const std::vector<std::string>& args) {
  std::string min_s = "4K", max_s = "256M", transport = "mpi";
  int ranks_per_site = 0, warmup = 3, iters = 0;
  std::vector<std::string> config_args;
  po::options_description desc("fedtrain bench allreduce options");
  desc.add_options()("help,h", "this help")
      ("min-bytes", po::value(&min_s)->default_value(min_s), "smallest message (4K, 1M, ...)")
      ("max-bytes", po::value(&max_s)->default_value(max_s), "largest message")
      ("warmup", po::value(&warmup)->default_value(warmup), "untimed calls per size and path")
      ("iters", po::value(&iters)->default_value(iters), "timed calls per size and path; 0: 4 GiB / size, within 30..200")
      ("transport", po::value(&transport)->default_value(transport),
       "leaders' path: mpi (Collectives over leaders_comm) or tcp (the TCP leader transport on 127.0.0.1)")
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
  if (transport != "mpi" && transport != "tcp")
    throw ConfigError("bench allreduce: --transport is mpi or tcp, not '" + transport + "'", true);
  if (warmup < 0 || iters < 0) throw ConfigError("bench allreduce: --warmup and --iters are counts, 0 or more", true);
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
    for (int s = 0; s < world_size / per_site; ++s) config.sites.push_back({.name = "site" + std::to_string(s), .ranks = per_site});
  }
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Topology topo = Topology::create(config, world);
  if (world_rank == 0)
    std::printf("# fedtrain bench allreduce: %d ranks, sites %s\n", topo.world_size(), topo.describe().c_str());

  // One communicator at a time, the rest of the world asleep: the two paths
  // are then compared on an otherwise quiet machine.
  for (int s = 0; s < topo.n_sites(); ++s) {
    const SiteLayout& site = topo.sites()[s];
    if (site.ranks < 2) continue;
    measured_alone(topo.site_index() == s, site.leader_world_rank, [&] {
      auto coll = make_mpi_collectives(topo.site_comm());
      return run_table("site_comm of site " + site.name, topo.site_comm(), "fedtrain Collectives::allreduce_sum",
                       [&](std::span<float> d) { coll->allreduce_sum(d); }, min_bytes, max_bytes, warmup, iters);
    });
  }
  if (topo.n_sites() > 1) {
    measured_alone(topo.is_leader(), topo.sites()[0].leader_world_rank, [&] {
      if (transport == "tcp") {
        LoopbackLeaders leaders(topo.leaders_comm());
        return run_table("leaders (one per site): fedtrain ring over the TCP leader transport, 127.0.0.1",
                         topo.leaders_comm(), "fedtrain ring over TCP transport",
                         [&](std::span<float> d) { transport_allreduce_sum(*leaders.transport, d); }, min_bytes, max_bytes,
                         warmup, iters);
      }
      auto coll = make_mpi_collectives(topo.leaders_comm());
      return run_table("leaders_comm (one leader per site)", topo.leaders_comm(), "fedtrain Collectives::allreduce_sum",
                       [&](std::span<float> d) { coll->allreduce_sum(d); }, min_bytes, max_bytes, warmup, iters);
    });
  }
  return kExitOk;
}

}  // namespace fedtrain
