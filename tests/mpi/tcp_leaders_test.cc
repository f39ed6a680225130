// The leader protocol over the TCP transport (mpiexec -n 3, each rank one site's leader on 127.0.0.1) gives what it gives over MPI.
//
// The same inputs go through the MPI transport (leaders = MPI_COMM_WORLD) and
// the TCP transport: the ring all-reduce, the settings agreement and the
// secure aggregator must agree bit for bit, and with MPI_Allreduce where sums are exact.
#include <gtest/gtest.h>
#include <mpi.h>

#include <random>

#include "bench/loopback_leaders.h"
#include "runtime/collectives/transport_allreduce.h"
#include "runtime/core/error.h"
#include "runtime/federation/secure_aggregator.h"
#include "runtime/federation/settings_agreement.h"

namespace fedtrain {
namespace {

std::vector<float> input_of(int rank, size_t n) {
  std::mt19937_64 gen(1000 + rank);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (float& v : x) v = u(gen);
  return x;
}

class TcpLeaders : public ::testing::Test {
 protected:
  void SetUp() override {
    world = Comm::borrow(MPI_COMM_WORLD);
    leaders = std::make_unique<LoopbackLeaders>(world, true, 60);
    mpi = make_mpi_transport(world);
  }
  Comm world;
  std::unique_ptr<LoopbackLeaders> leaders;
  std::unique_ptr<Transport> mpi;
};

TEST_F(TcpLeaders, RingAllreduceEqualsMpiAllreduceWhereExactAndTheMpiTransportBitForBit) {
  const int me = world.rank(), n = world.size();
  for (size_t count : {size_t{1}, size_t{2}, size_t{1001}, size_t{1} << 20}) {
    // Exact sums (small integers): equal to MPI_Allreduce.
    std::vector<float> exact(count), reference(count);
    for (size_t i = 0; i < count; ++i) exact[i] = reference[i] = static_cast<float>(me + 1 + static_cast<int>(i % 13));
    transport_allreduce_sum(*leaders->transport, std::span<float>(exact));
    MPI_Allreduce(MPI_IN_PLACE, reference.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(exact, reference) << count << " floats";
    // Rounded sums: the same bits over TCP as over the MPI transport, and close to MPI_Allreduce.
    std::vector<float> over_tcp = input_of(me, count), over_mpi = over_tcp, by_mpi = over_tcp;
    transport_allreduce_sum(*leaders->transport, std::span<float>(over_tcp));
    transport_allreduce_sum(*mpi, std::span<float>(over_mpi));
    MPI_Allreduce(MPI_IN_PLACE, by_mpi.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(over_tcp, over_mpi) << count << " floats";
    for (size_t i = 0; i < count; ++i) ASSERT_NEAR(over_tcp[i], by_mpi[i], 1e-6f * n) << i;
    std::vector<double> d(count, 0.25 * (me + 1)), d_ref = d;
    transport_allreduce_sum(*leaders->transport, std::span<double>(d));
    MPI_Allreduce(MPI_IN_PLACE, d_ref.data(), static_cast<int>(count), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    ASSERT_EQ(d, d_ref) << count << " doubles";
  }
}

// The pipeline (chunks of a step leaving as the step before delivers them,
// receives posted `depth` ahead) must not change a bit: every chunk size and
// depth gives what one chunk per step gives, over TCP and over MPI, for
// segments that split unevenly into chunks and for empty segments.
TEST_F(TcpLeaders, PipelinedRingGivesTheSameBitsForEveryChunkSizeAndDepth) {
  const int me = world.rank();
  for (size_t count : {size_t{2}, size_t{1001}, size_t{100003}}) {
    std::vector<float> whole = input_of(me, count);
    transport_allreduce_sum(*leaders->transport, std::span<float>(whole), kTransportAllreduceTag,
                            RingOptions{count * sizeof(float), 1});
    for (size_t chunk_bytes : {size_t{4}, size_t{4096}, size_t{1} << 20})
      for (int depth : {1, 2, 4}) {
        if (chunk_bytes * 1000 < count) continue;  // a message per float of 100003: too slow for a test
        const RingOptions options{chunk_bytes, depth};
        std::vector<float> over_tcp = input_of(me, count), over_mpi = over_tcp;
        transport_allreduce_sum(*leaders->transport, std::span<float>(over_tcp), kTransportAllreduceTag, options);
        transport_allreduce_sum(*mpi, std::span<float>(over_mpi), kTransportAllreduceTag, options);
        ASSERT_EQ(over_tcp, whole) << count << " floats, chunks of " << chunk_bytes << " B, depth " << depth;
        ASSERT_EQ(over_mpi, whole) << count << " floats, chunks of " << chunk_bytes << " B, depth " << depth;
      }
  }
}

TEST_F(TcpLeaders, SettingsAgreementOverTcpAgreesAsOverMpiAndNamesTheFirstDifference) {
  const std::vector<SharedSetting> same = {{"federation.secure", "true"}, {"federation.min_sites", "2"}};
  uint64_t bytes = 0;
  const Sha256Digest over_tcp = agree_settings(*leaders->transport, nullptr, leaders->sites, same, &bytes);
  const Sha256Digest over_mpi = agree_settings(*mpi, nullptr, leaders->sites, same, &bytes);
  EXPECT_EQ(over_tcp, over_mpi);
  std::vector<SharedSetting> mine = same;
  if (world.rank() == 2) mine[1].value = "3";
  try {
    agree_settings(*leaders->transport, nullptr, leaders->sites, mine, &bytes);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("federation.min_sites"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("s2"), std::string::npos) << e.what();
  }
}

TEST_F(TcpLeaders, SecureAggregationOverTcpGivesTheSameAverageAsOverMpi) {
  const int me = world.rank();
  KeySchedule tcp_schedule(leaders->manifest, me, leaders->key, "tcp-test");
  KeySchedule mpi_schedule(leaders->manifest, me, leaders->key, "tcp-test");
  SecureOptions options;
  options.fixed_point.frac_bits = 20;
  options.chunk_bytes = 64 * 1024;
  SecureAggregator over_tcp(*leaders->transport, nullptr, tcp_schedule, leaders->sites, "tcp-test", options);
  SecureAggregator over_mpi(*mpi, nullptr, mpi_schedule, leaders->sites, "tcp-test", options);
  int64_t round = 1;
  for (size_t count : {size_t{1}, size_t{4097}, size_t{300000}}) {
    std::vector<float> a = input_of(me, count), b = a;
    UpdateStatus status;
    status.samples = 100.0 * (me + 1);
    status.norm = 1.0;
    const AggregateResult rt = over_tcp.average(a, status, RoundId{round, 0});
    const AggregateResult rm = over_mpi.average(b, status, RoundId{round, 0});
    ++round;
    ASSERT_EQ(rt.outcome, Outcome::kApplied) << rt.failure;
    ASSERT_EQ(rm.outcome, Outcome::kApplied) << rm.failure;
    EXPECT_EQ(rt.participants, 3);
    ASSERT_EQ(a, b) << count << " floats: TCP and MPI averages differ";
    // And it is the weighted average: within the fixed-point step of the exact one.
    std::vector<float> exact(count, 0.0f);
    for (int r = 0; r < world.size(); ++r) {
      const auto x = input_of(r, count);
      for (size_t i = 0; i < count; ++i) exact[i] += static_cast<float>(x[i] * (100.0 * (r + 1)) / 600.0);
    }
    for (size_t i = 0; i < count; ++i) ASSERT_NEAR(a[i], exact[i], 1e-5) << i;
  }
  const Agreement agreed = over_tcp.agree(Outcome::kApplied, sha256("m", 1), RoundId{round - 1, 0});
  EXPECT_TRUE(agreed.agreed) << agreed.failure;
}

}  // namespace
}  // namespace fedtrain
