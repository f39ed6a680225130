// fedtrain bench secagg: the secure exchange between site leaders beside plaintext MPI_Allreduce.
//
// Every rank is the leader of its own site (mpirun -n 2, -n 4). For each
// size, in the same run and alternating call by call (barrier-aligned, the
// slowest leader's time, median over iterations):
//   plaintext  MPI_Allreduce of the float vector, in place (--plain mpi), or
//              fedtrain's ring over the leaders' transport (--plain ring)
//   secure     SecureAggregator::average: sealed statuses, quantise + mask,
//              the encrypted ring, dequantise; egress log on (as in production)
// with the secure exchange's own breakdown (quantise, mask, seal, transfer,
// open, egress log, dequantise: rank 0's seconds per call, summed over its
// crypto threads; and its CPU seconds per call, user + system) and the bytes
// each leader puts on the wire. Given the link rate (--link-rate), also the link
// bound 2(n-1)/n x size / rate, what a bandwidth-optimal all-reduce needs, and
// both times over it. --json writes every row as JSON too (bench/wan/ reads
// it). First, on one core with the others asleep, the AES-256-GCM,
// AES-256-CTR and SHA-256 rates of this machine, for comparison.
// Leaders on different hosts (bench/wan/): --transport tcp --interface eth0.
#include <mpi.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "bench/bench.h"
#include "bench/loopback_leaders.h"
#include "runtime/collectives/transport_allreduce.h"
#include "runtime/core/error.h"
#include "runtime/crypto/aes.h"
#include "runtime/crypto/manifest.h"
#include "runtime/federation/crypto_workers.h"
#include "runtime/federation/secure_aggregator.h"
#include "runtime/topology/node.h"
#include "runtime/topology/mpi_check.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

size_t parse_size(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit(end);
  const double mult = unit.empty() ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1048576.0 : unit == "G" ? 1073741824.0 : -1;
  if (end == s.c_str() || mult < 0 || v <= 0) throw ConfigError("bench secagg: '" + s + "' is not a size like 1M or 256M", true);
  return static_cast<size_t>(v * mult);
}

// Bits per second: 957M, 1G, 1e9, or tc's 100mbit, 1gbit.
double parse_rate(const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  std::string unit(end);
  if (unit.size() > 3 && unit.substr(unit.size() - 3) == "bit") unit.resize(unit.size() - 3);
  const double mult = unit.empty() ? 1 : unit == "K" || unit == "k" ? 1e3 : unit == "M" || unit == "m" ? 1e6
                      : unit == "G" || unit == "g" ? 1e9 : -1;
  if (end == s.c_str() || mult < 0 || v <= 0)
    throw ConfigError("bench secagg: --link-rate '" + s + "' is not a rate like 957M, 1G or 100mbit (bits/s)", true);
  return v * mult;
}

// Single-core rates in GB/s (rank 0 alone).
struct Rates {
  double gcm = 0, ctr = 0, sha = 0;
};
Rates single_core_rates() {
  const size_t bytes = size_t{64} << 20;
  std::vector<uint8_t> buf(bytes, 1), out(bytes);
  Key256 key{};
  Aes256Gcm gcm(key);
  Aes256Ctr ctr(key);
  GcmTag tag;
  std::vector<double> tg, tc, ts;
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    gcm.seal(GcmNonce{}, nullptr, 0, buf.data(), bytes, out.data(), tag);
    tg.push_back(since(t));
    t = Clock::now();
    ctr.next(out.data(), bytes);
    tc.push_back(since(t));
    t = Clock::now();
    sha256(buf.data(), bytes);
    ts.push_back(since(t));
  }
  return {bytes / median(tg) / 1e9, bytes / median(tc) / 1e9, bytes / median(ts) / 1e9};
}

void sleepy_barrier() {
  MPI_Request req;
  MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, &req));
  int done = 0;
  while (!done) {
    MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
    if (!done) usleep(2000);
  }
}

// User + system CPU seconds of this process, every thread.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

double slowest(double t) {
  double m = 0;
  MPI_CHECK(MPI_Allreduce(&t, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  return m;
}

}  // namespace

int bench_secagg(const std::vector<std::string>& args) {
  std::string min_s = "1M", max_s = "256M", log_dir = "", transport_name = "mpi", plain_name, iface, json_path;
  std::string link_rate_s, crypto_threads_s = "auto";
  int chunk_kib = 1024, frac_bits = 24, iters_opt = 0;
  bool no_log = false;
  po::options_description desc("fedtrain bench secagg options");
  desc.add_options()("help,h", "this help")("min-bytes", po::value(&min_s)->default_value(min_s), "smallest model, bytes")(
      "max-bytes", po::value(&max_s)->default_value(max_s), "largest model, bytes")(
      "chunk-kib", po::value(&chunk_kib)->default_value(chunk_kib), "bytes per sealed message, KiB")(
      "frac-bits", po::value(&frac_bits)->default_value(frac_bits), "fixed-point fraction bits")(
      "iters", po::value(&iters_opt)->default_value(0), "timed calls of each path per size (after one warm-up); "
      "0: 2 GiB / size, within 5..30")(
      "no-egress-log", po::bool_switch(&no_log), "leave the egress log out (to see its cost)")(
      "transport", po::value(&transport_name)->default_value(transport_name),
      "mpi: MPI point-to-point and MPI_Allreduce; tcp: the TCP leader transport on 127.0.0.1 for both paths, "
      "plaintext being fedtrain's ring all-reduce over it, wire bytes counted by the transport")(
      "plain", po::value(&plain_name), "the plaintext baseline: mpi (MPI_Allreduce) or ring (fedtrain's ring over the "
      "transport); default: mpi for --transport mpi, ring for tcp")(
      "interface", po::value(&iface), "--transport tcp: every leader listens on the IPv4 address of this network "
      "interface (as NCCL_SOCKET_IFNAME), for leaders on different hosts; default 127.0.0.1")(
      "link-rate", po::value(&link_rate_s), "each leader's link rate in bits/s (like 957M or 1G): adds the link bound "
      "2(n-1)/n x size / rate and secure/bound")(
      "json", po::value(&json_path), "also write every row as a JSON object, one per line, to this file (rank 0)")(
      "crypto-threads", po::value(&crypto_threads_s)->default_value(crypto_threads_s),
      "worker threads per leader for the ring's CPU work (federation.crypto_threads): N, or auto (the CPUs of the "
      "affinity mask minus the benchmark's ranks on this node, each rank standing for a site's node, at most 8)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string("bench secagg: ") + e.what(), true);
  }
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  const int n = world.size(), me = world.rank();
  if (vm.count("help")) {
    if (me == 0) {
      std::printf("usage: mpirun -n N fedtrain bench secagg [options]   (every rank is one site's leader)\n\n");
      std::cout << desc;
    }
    return kExitOk;
  }
  if (n < 2) throw ConfigError("bench secagg: start at least 2 ranks (each is one site's leader)", true);
  if (transport_name != "mpi" && transport_name != "tcp")
    throw ConfigError("bench secagg: --transport is mpi or tcp, not '" + transport_name + "'", true);
  const bool tcp = transport_name == "tcp";
  if (plain_name.empty()) plain_name = tcp ? "ring" : "mpi";
  if (plain_name != "mpi" && plain_name != "ring")
    throw ConfigError("bench secagg: --plain is mpi or ring, not '" + plain_name + "'", true);
  const bool plain_mpi = plain_name == "mpi";
  const double link_bps = link_rate_s.empty() ? 0.0 : parse_rate(link_rate_s);
  const size_t min_bytes = parse_size(min_s), max_bytes = parse_size(max_s);
  int crypto_threads = 0;
  if (crypto_threads_s == "auto") {
    crypto_threads = auto_crypto_threads(node_info(world).local_size);
  } else {
    char* end = nullptr;
    const long v = std::strtol(crypto_threads_s.c_str(), &end, 10);
    if (end == crypto_threads_s.c_str() || *end != '\0' || v < 0 || v > 64)
      throw ConfigError("bench secagg: --crypto-threads is auto or a number from 0 to 64, not '" + crypto_threads_s + "'",
                        true);
    crypto_threads = static_cast<int>(v);
  }

  // Rates of one core while the others sleep.
  Rates rates;
  if (me == 0) rates = single_core_rates();
  sleepy_barrier();

  // Fresh identities for every leader; public keys (and, for tcp, ports) exchanged over MPI (a benchmark, not a federation).
  LoopbackLeaders leaders(world, tcp, 60, iface.empty() ? "127.0.0.1" : interface_address(iface));
  const std::vector<std::string>& sites = leaders.sites;
  KeySchedule schedule(leaders.manifest, me, leaders.key, "bench");
  std::unique_ptr<Transport> mpi_transport;
  Transport* transport = leaders.transport.get();  // --transport tcp
  if (!tcp) {
    mpi_transport = make_mpi_transport(world);
    transport = mpi_transport.get();
  }
  // Bytes this leader put on the wire: counted by the TCP transport (frames included), or in theory for MPI.
  auto tcp_bytes_sent = [&] {
    uint64_t sent = 0;
    for (const PeerStats& p : leaders.transport->peer_stats()) sent += p.bytes_sent;
    return sent;
  };
  const std::string log_path = (std::filesystem::temp_directory_path() / ("fedtrain-bench-egress-" + std::to_string(getpid()) + ".jsonl")).string();
  std::unique_ptr<EgressLog> log;
  if (!no_log) log = std::make_unique<EgressLog>(log_path);
  SecureOptions options;
  options.allow_two_participants = true;  // the benchmark measures 2 leaders too
  options.fixed_point.frac_bits = frac_bits;
  options.chunk_bytes = static_cast<size_t>(chunk_kib) * 1024;
  options.crypto_threads = crypto_threads;
  SecureAggregator secure(*transport, log.get(), schedule, sites, "bench", options);
  std::unique_ptr<FILE, int (*)(FILE*)> json(nullptr, &std::fclose);
  if (me == 0 && !json_path.empty()) {
    json.reset(std::fopen(json_path.c_str(), "a"));
    if (!json) throw Error("bench secagg: cannot open --json file '" + json_path + "' to append to it");
  }

  if (me == 0) {
    std::printf("# fedtrain bench secagg: %d leaders (one rank per site), float32 model, sealed chunks of %d KiB, "
                "fixed point with %d fraction bits, egress log %s, transport %s, %d crypto thread(s) per leader\n",
                n, chunk_kib, frac_bits, no_log ? "off" : "on",
                tcp ? "tcp (wire bytes as counted by it, frames included)" : "mpi (wire bytes in theory)", crypto_threads);
    std::printf("# phases: rank 0's seconds per call, summed over its threads; cpu: rank 0's user+sys CPU seconds "
                "per secure call (getrusage, every thread of the process)\n");
    std::printf("# plain = %s", plain_mpi ? "MPI_Allreduce (its wire bytes in theory)" : "fedtrain's ring over the transport");
    if (link_bps > 0) std::printf("; link bound = 2(n-1)/n x size / %.4g bit/s", link_bps);
    std::printf("\n");
    std::printf("# one core, this run: AES-256-GCM %.2f GB/s, AES-256-CTR keystream %.2f GB/s, SHA-256 %.2f GB/s\n",
                rates.gcm, rates.ctr, rates.sha);
    std::printf("#%11s | %10s %12s | %10s %12s | %6s %6s | %9s %6s %6s | %7s %7s %7s %8s %7s %7s %7s | %7s\n", "size",
                "plain", "wire/leader", "secure", "wire/leader", "ratio", "wire", "bound", "s/bnd", "p/bnd", "quant", "mask",
                "seal", "transfer", "open", "log", "dequant", "cpu");
    std::printf("#%11s | %10s %12s | %10s %12s | %6s %6s | %9s %6s %6s | %7s %7s %7s %8s %7s %7s %7s | %7s\n", "(B)",
                "(ms)", "(B)", "(ms)", "(B)", "time", "bytes", "(ms)", "", "", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)",
                "(ms)", "(ms)");
    std::fflush(stdout);
  }

  std::mt19937_64 gen(me + 1);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  int64_t round = 1;
  for (size_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
    const size_t count = bytes / sizeof(float);
    std::vector<float> plain(count), update(count);
    for (size_t i = 0; i < count; ++i) plain[i] = update[i] = u(gen);
    const int iters = iters_opt > 0 ? iters_opt : static_cast<int>(std::clamp<size_t>((size_t{2} << 30) / bytes, 5, 30));
    std::vector<double> tp, ts;
    double cpu_secure = 0.0;  // this rank's user+sys seconds over the timed secure calls
    SecureStats before_all = secure.stats(), after_all;
    uint64_t secure_wire = 0;
    // Plaintext's bytes per leader: what a bandwidth-optimal all-reduce sends, or what the TCP transport counted.
    uint64_t plain_wire = 2 * (static_cast<uint64_t>(n) - 1) * bytes / n;
    for (int it = 0; it < iters + 1; ++it) {  // iteration 0 warms up
      for (int k = 0; k < 2; ++k) {
        const bool do_secure = (it + k) % 2 == 1;
        MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
        if (it == 1 && do_secure) before_all = secure.stats();
        const uint64_t sent = secure.sent_bytes(), tcp_sent = tcp ? tcp_bytes_sent() : 0;
        const auto t = Clock::now();
        const double cpu0 = do_secure ? cpu_seconds() : 0.0;
        if (do_secure) {
          UpdateStatus status;
          status.samples = 1000.0 + me;
          status.norm = 1.0;
          AggregateResult r = secure.average(update, status, RoundId{round++, 0});
          if (r.outcome != Outcome::kApplied) throw Error("bench secagg: exchange failed: " + r.failure);
        } else if (tcp && !plain_mpi) {
          transport_allreduce_sum(*transport, std::span<float>(plain));
        } else {
          MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, plain.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        }
        const double cpu = do_secure ? cpu_seconds() - cpu0 : 0.0;
        const double elapsed = slowest(since(t));
        if (it == 0) continue;
        cpu_secure += cpu;
        (do_secure ? ts : tp).push_back(elapsed);
        if (do_secure) secure_wire = tcp ? tcp_bytes_sent() - tcp_sent : secure.sent_bytes() - sent;
        if (!do_secure && tcp && !plain_mpi) plain_wire = tcp_bytes_sent() - tcp_sent;
      }
    }
    after_all = secure.stats();
    const double calls = static_cast<double>(ts.size());
    auto per_call_ms = [&](double a, double b) { return (b - a) / calls * 1e3; };
    if (me == 0) {
      const double p = median(tp), s = median(ts);
      const double bound = link_bps > 0 ? 2.0 * (n - 1) / n * static_cast<double>(bytes) * 8 / link_bps : 0.0;
      auto over = [&](double t) { return bound > 0 ? t / bound : 0.0; };
      const double phases[] = {per_call_ms(before_all.quantize_seconds, after_all.quantize_seconds),
                               per_call_ms(before_all.mask_seconds, after_all.mask_seconds),
                               per_call_ms(before_all.link.seal_seconds, after_all.link.seal_seconds),
                               per_call_ms(before_all.link.transfer_seconds, after_all.link.transfer_seconds),
                               per_call_ms(before_all.link.open_seconds, after_all.link.open_seconds),
                               per_call_ms(before_all.link.log_seconds, after_all.link.log_seconds),
                               per_call_ms(before_all.dequantize_seconds, after_all.dequantize_seconds)};
      std::printf(" %11zu | %10.2f %12llu | %10.2f %12llu | %6.2f %6.3f | %9.2f %6.2f %6.2f |", bytes, p * 1e3,
                  static_cast<unsigned long long>(plain_wire), s * 1e3, static_cast<unsigned long long>(secure_wire),
                  s / p, static_cast<double>(secure_wire) / plain_wire, bound * 1e3, over(s), over(p));
      for (int i = 0; i < 7; ++i) std::printf(i == 3 ? " %8.2f" : " %7.2f", phases[i]);
      std::printf(" | %7.2f\n", cpu_secure / calls * 1e3);
      std::fflush(stdout);
      if (json) {
        static const char* names[] = {"quantize", "mask", "seal", "transfer", "open", "log", "dequantize"};
        std::fprintf(json.get(),
                     "{\"bench\":\"secagg\",\"sites\":%d,\"transport\":\"%s\",\"plain\":\"%s\",\"bytes\":%zu,"
                     "\"chunk_bytes\":%zu,\"egress_log\":%s,\"crypto_threads\":%d,\"iterations\":%zu,"
                     "\"link_rate_bps\":%.6g,\"cpu_s\":%.6g,"
                     "\"plain_s\":%.6g,\"secure_s\":%.6g,\"bound_s\":%.6g,\"plain_wire_bytes\":%llu,"
                     "\"secure_wire_bytes\":%llu,\"phases_ms\":{",
                     n, transport_name.c_str(), plain_name.c_str(), bytes, options.chunk_bytes, no_log ? "false" : "true",
                     crypto_threads, ts.size(), link_bps, cpu_secure / calls, p, s, bound, static_cast<unsigned long long>(plain_wire),
                     static_cast<unsigned long long>(secure_wire));
        for (int i = 0; i < 7; ++i) std::fprintf(json.get(), "%s\"%s\":%.4f", i ? "," : "", names[i], phases[i]);
        std::fprintf(json.get(), "}}\n");
        std::fflush(json.get());
      }
    }
  }
  if (log) {
    log.reset();
    std::filesystem::remove(log_path);
  }
  return kExitOk;
}

}  // namespace fedtrain
