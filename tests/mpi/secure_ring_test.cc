// The masked, encrypted ring (mpiexec -n 2, 3, 4, 8): the unmasked sum is the sum of the quantised inputs, bit for bit.
#include <algorithm>
#include <gtest/gtest.h>
#include <mpi.h>

#include <random>

#include "kernels/cpu/kernels.h"
#include "runtime/federation/encrypted_ring.h"
#include "runtime/federation/fixed_point.h"
#include "runtime/federation/round_keys.h"
#include "tests/support/secure_leaders.h"

namespace fedtrain {
namespace {

std::vector<float> input_of(int rank, size_t n) {
  std::mt19937_64 gen(1000 + rank);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> x(n);
  for (float& v : x) v = u(gen);
  return x;
}

// The masked encoding of `x` by `me` for one round attempt.
std::vector<uint32_t> masked(RoundKeys& keys, int me, const std::vector<float>& x, const FixedPoint& fp,
                             double weight, uint64_t seed) {
  MaskStreams masks = keys.mask_streams();
  std::vector<uint32_t> out(x.size());
  encode_masked(out, x, 0, fp, weight, seed, me, masks.peers, masks.streams, nullptr, nullptr);
  return out;
}

TEST(SecureRing, UnmaskedSumEqualsTheSumOfTheQuantisedInputsBitForBit) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  const int n = world.size(), me = world.rank();
  leaders.schedule->set_session(sha256("s", 1));
  SecureLink link(*leaders.transport, nullptr, leaders.sites, job_tag("test"));
  const FixedPoint fp{4.0f, 24};
  const double weight = 1.0 / n;
  uint64_t round = 1;
  for (size_t len : {size_t{1}, size_t{1001}, size_t{1} << 20}) {
    RoundKeys keys(*leaders.schedule, n, round, 0);
    link.begin(keys);
    const std::vector<float> x = input_of(me, len);
    std::vector<uint32_t> mine = masked(keys, me, x, fp, weight, 77 + me);
    // The mask hides the input: the masked vector is not the quantised one.
    std::vector<uint32_t> q(len);
    kernels::cpu::quantize(q.data(), x.data(), len, fp.clip, weight * std::ldexp(1.0, fp.frac_bits), 77 + me, 0);
    if (n > 1 && len > 1) {
      EXPECT_NE(mine, q);
    }

    ASSERT_EQ(ring_allreduce(link, mine, 4096), "") << "length " << len;
    // Independently: every leader's quantised input, summed in Z_2^32.
    std::vector<uint32_t> expected(len, 0);
    for (int r = 0; r < n; ++r) {
      const std::vector<float> xr = input_of(r, len);
      kernels::cpu::quantize(q.data(), xr.data(), len, fp.clip, weight * std::ldexp(1.0, fp.frac_bits), 77 + r, 0);
      for (size_t i = 0; i < len; ++i) expected[i] += q[i];
    }
    ASSERT_EQ(mine, expected) << "length " << len << ", " << n << " leaders";
    ++round;
  }
}

TEST(SecureRing, TheSameInputInTwoRoundsGivesDifferentMaskedVectors) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  leaders.schedule->set_session(sha256("s", 1));
  const int n = world.size(), me = world.rank();
  const std::vector<float> x = input_of(me, 4096);
  RoundKeys round1(*leaders.schedule, n, 1, 0), round2(*leaders.schedule, n, 2, 0), retry(*leaders.schedule, n, 1, 1);
  const FixedPoint fp{4.0f, 24};
  const auto a = masked(round1, me, x, fp, 0.5, 9), b = masked(round2, me, x, fp, 0.5, 9),
             c = masked(retry, me, x, fp, 0.5, 9);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(SecureRing, EncodingInPartsInAnyOrderEqualsTheWholeEncoding) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  leaders.schedule->set_session(sha256("s", 1));
  const int n = world.size(), me = world.rank();
  const std::vector<float> x = input_of(me, 10007);
  RoundKeys keys(*leaders.schedule, n, 1, 0);
  const FixedPoint fp{4.0f, 24};
  const std::vector<uint32_t> whole = masked(keys, me, x, fp, 0.5, 9);
  MaskStreams masks = keys.mask_streams();
  std::vector<uint32_t> parts(x.size(), 0);
  // Backwards, in pieces that start at unaligned elements.
  for (size_t end = x.size(); end > 0;) {
    const size_t first = end > 1237 ? end - 1237 : 0;
    encode_masked(std::span(parts).subspan(first, end - first), std::span(x).subspan(first, end - first), first, fp, 0.5,
                  9, me, masks.peers, masks.streams, nullptr, nullptr);
    end = first;
  }
  EXPECT_EQ(parts, whole);
}

TEST(SecureRing, EncodingChunkByChunkInsideTheRingGivesTheSameSum) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  testing::SecureLeaders leaders(world);
  const int n = world.size(), me = world.rank();
  leaders.schedule->set_session(sha256("s", 1));
  SecureLink link(*leaders.transport, nullptr, leaders.sites, job_tag("test"));
  const FixedPoint fp{4.0f, 24};
  const std::vector<float> x = input_of(me, 50001);
  // Round 1: encoded whole, before the ring. Round 2: the ring asks for each chunk as it needs it.
  RoundKeys keys1(*leaders.schedule, n, 1, 0), keys2(*leaders.schedule, n, 2, 0);
  link.begin(keys1);
  std::vector<uint32_t> upfront = masked(keys1, me, x, fp, 0.25, 5);
  ASSERT_EQ(ring_allreduce(link, upfront, 4096), "");
  link.begin(keys2);
  MaskStreams masks = keys2.mask_streams();
  std::vector<uint32_t> lazy(x.size(), 0xDEADBEEF);
  std::vector<int> asked(x.size(), 0);
  const std::string failure = ring_allreduce(link, lazy, 4096, [&](size_t first, size_t count) {
    for (size_t i = first; i < first + count; ++i) ++asked[i];
    encode_masked(std::span(lazy).subspan(first, count), std::span(x).subspan(first, count), first, fp, 0.25, 5, me,
                  masks.peers, masks.streams, nullptr, nullptr);
  });
  ASSERT_EQ(failure, "");
  EXPECT_TRUE(std::all_of(asked.begin(), asked.end(), [](int a) { return a == 1; })) << "an element asked for twice or never";
  EXPECT_EQ(lazy, upfront);
}

}  // namespace
}  // namespace fedtrain
