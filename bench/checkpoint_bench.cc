// fedtrain bench checkpoint: writing a checkpoint beside a raw write+fsync of the same bytes.
//
// For each size (default 64 and 512 MiB) a checkpoint of a DiLoCo-shaped
// state is built: the model, the inner SGD momentum and the outer momentum,
// each a third of the bytes, in tensors of 1024 x 1024 floats, filled with
// pseudo-random values. Then, --repeats times, alternating so that both see
// the same machine and page-cache state:
//   checkpoint  CheckpointStore::write: HDF5 file under a temporary name, every
//               dataset hashed (SHA-256, on a second thread), fsync, rename,
//               fsync of the directory: what a site leader does every round
//   raw         open, write(2) of the same bytes, fsync, close
// Each file is removed before the next write. Reported: the median time and
// throughput of each, the median CPU time (all threads, user + system) of
// each, and the median over repeats of t(raw)/t(checkpoint) of the same
// repeat (the paired ratio; 1.0 means checkpoints cost nothing over writing
// the bytes). The CPU column shows what the hashes cost: on a machine whose
// cores are busy with other work that CPU time turns into wall time.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "runtime/checkpoint/checkpoint_store.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/model/param_layout.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace fedtrain {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// CPU seconds of this process so far, every thread, user and system.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return s(u.ru_utime) + s(u.ru_stime);
}

// A checkpoint of about `bytes` bytes: three model-sized buffers.
Checkpoint make_checkpoint(size_t bytes) {
  const size_t params = std::max<size_t>(1, bytes / 3 / sizeof(float));
  ParamLayout layout;
  const size_t tensor = 1024 * 1024;
  size_t left = params;
  for (int i = 0; left > 0; ++i) {
    const size_t n = std::min(tensor, left);
    if (n == tensor) layout.add("layers." + std::to_string(i) + ".weight", {1024, 1024});
    else layout.add("layers." + std::to_string(i) + ".weight", {n});
    left -= n;
  }
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto random_buffer = [&] {
    std::vector<float> v(params);
    for (float& x : v) x = u(gen);
    return v;
  };
  Checkpoint c;
  c.job_id = "bench";
  c.round = 1;
  c.config_text = "[bench]\n";
  c.site = "bench";
  c.sites = {"bench"};
  c.model_layout = layout_text(layout);
  c.model = random_buffer();
  c.inner.push_back({"momentum", random_buffer()});
  c.outer.push_back({"momentum", random_buffer()});
  c.data = {{0, 0}};
  return c;
}

void raw_write(const std::string& path, const std::vector<const std::vector<float>*>& buffers) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("bench checkpoint: cannot create '" + path + "': " + std::strerror(errno));
  for (const auto* b : buffers) {
    const char* p = reinterpret_cast<const char*>(b->data());
    size_t left = b->size() * sizeof(float);
    while (left > 0) {
      const ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        throw Error("bench checkpoint: cannot write '" + path + "': " + std::strerror(errno));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw Error("bench checkpoint: cannot fsync '" + path + "': " + std::strerror(errno));
}

}  // namespace

int bench_checkpoint(const std::vector<std::string>& args) {
  std::string dir = ".", sizes_s = "64,512";
  int repeats = 7;
  po::options_description desc("fedtrain bench checkpoint options");
  desc.add_options()("help,h", "this help")
      ("dir", po::value(&dir)->default_value(dir), "where to write (a scratch folder is made inside and removed); "
                                                    "put it on the volume checkpoints will use")
      ("sizes-mib", po::value(&sizes_s)->default_value(sizes_s), "checkpoint sizes in MiB, comma-separated")
      ("repeats", po::value(&repeats)->default_value(repeats), "writes of each kind per size (median reported)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string("bench checkpoint: ") + e.what());
  }
  if (vm.count("help")) {
    std::printf("usage: fedtrain bench checkpoint [options]\n\n");
    std::cout << desc;
    return kExitOk;
  }
  const std::vector<int> sizes = config_values::parse_int_list("--sizes-mib", sizes_s, 1, 1 << 20);
  if (repeats < 1) throw ConfigError("bench checkpoint: --repeats must be >= 1");

  const std::string scratch = (fs::path(dir) / ("fedtrain-bench-checkpoint." + std::to_string(::getpid()))).string();
  CheckpointStore store(scratch);
  store.prepare();
  std::printf("# fedtrain bench checkpoint: %s, median of %d writes of each kind, alternating\n", scratch.c_str(),
              repeats);
  std::printf("# checkpoint = HDF5 + SHA-256 of every dataset + fsync + rename + directory fsync; raw = write + fsync\n");
  std::printf("%8s %9s %10s %11s %9s %10s %11s %9s\n", "MiB", "ckpt_s", "ckpt_GB/s", "ckpt_cpu_s", "raw_s",
              "raw_GB/s", "raw_cpu_s", "raw/ckpt");
  int status = kExitOk;
  try {
    using Clock = std::chrono::steady_clock;
    for (int mib : sizes) {
      Checkpoint c = make_checkpoint(static_cast<size_t>(mib) << 20);
      const std::vector<const std::vector<float>*> buffers = {&c.model, &c.inner[0].data, &c.outer[0].data};
      const double bytes = 3.0 * static_cast<double>(c.model.size()) * sizeof(float);
      const std::string raw_path = scratch + "/raw.bin";
      std::vector<double> t_ckpt, t_raw, cpu_ckpt, cpu_raw, ratio;
      for (int r = 0; r < repeats; ++r) {
        auto t0 = Clock::now();
        double c0 = cpu_seconds();
        const std::string path = store.write(c);
        const double tc = std::chrono::duration<double>(Clock::now() - t0).count();
        cpu_ckpt.push_back(cpu_seconds() - c0);
        fs::remove(path);
        t0 = Clock::now();
        c0 = cpu_seconds();
        raw_write(raw_path, buffers);
        const double tr = std::chrono::duration<double>(Clock::now() - t0).count();
        cpu_raw.push_back(cpu_seconds() - c0);
        fs::remove(raw_path);
        t_ckpt.push_back(tc);
        t_raw.push_back(tr);
        ratio.push_back(tr / tc);
      }
      const double mc = median(t_ckpt), mr = median(t_raw);
      std::printf("%8d %9.3f %10.2f %11.3f %9.3f %10.2f %11.3f %9.2f\n", mib, mc, bytes / mc / 1e9, median(cpu_ckpt),
                  mr, bytes / mr / 1e9, median(cpu_raw), median(ratio));
      std::fflush(stdout);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(scratch, ec);
    throw;
  }
  std::error_code ec;
  fs::remove_all(scratch, ec);
  std::printf("# raw/ckpt is the median over repeats of t(raw)/t(checkpoint) of the same repeat: the goal is >= 0.90\n");
  return status;
}

}  // namespace fedtrain
