// The leaders' group and the two-level agreements over it, sites a=1 b=2 c=1 ranks (mpiexec -n 4).
#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>

#include "runtime/collectives/leader_group.h"
#include "runtime/collectives/two_level_agreement.h"
#include "runtime/core/error.h"
#include "tests/support/mpi_support.h"

namespace fedtrain {
namespace {

using testing::world_rank;

Config three_sites() {
  Config c;
  for (auto [name, ranks] : {std::pair{"a", 1}, {"b", 2}, {"c", 1}})
    c.sites.push_back({.name = name, .ranks = ranks, .data = std::string(name) + ".h5"});
  return c;
}

// One rank of the federation: its topology, and on leaders the MPI transport and group.
struct Member {
  Topology topo;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<LeaderGroup> group;
  std::unique_ptr<TwoLevelAgreement> agreement;
  explicit Member(const Config& c) : topo(Topology::create(c, Comm::borrow(MPI_COMM_WORLD))) {
    if (topo.is_leader()) {
      transport = make_mpi_transport(topo.leaders_comm());
      group = std::make_unique<LeaderGroup>(*transport, std::vector<std::string>{"a", "b", "c"}, 60);
    }
    agreement = std::make_unique<TwoLevelAgreement>(topo, group.get());
  }
};

TEST(LeaderGroup, AllgatherAndBroadcastOfAnySize) {
  Member m(three_sites());
  if (!m.topo.is_leader()) return;
  LeaderGroup& g = *m.group;
  // Sizes 0 B, a few bytes and 3 MiB, different on every leader.
  const std::vector<size_t> sizes = {0, 5, size_t{3} << 20};
  const std::string mine(sizes[g.rank()], static_cast<char>('a' + g.rank()));
  const std::vector<std::string> all = g.allgather(mine);
  ASSERT_EQ(all.size(), 3u);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(all[p], std::string(sizes[p], static_cast<char>('a' + p)));
  for (int root = 0; root < 3; ++root) {
    std::string bytes = g.rank() == root ? "from " + g.site(root) : "stale";
    g.broadcast(bytes, root);
    EXPECT_EQ(bytes, "from " + g.site(root));
  }
  EXPECT_EQ(g.max_over(10 * g.rank() - 7), 13);
  EXPECT_EQ(g.min_over(10 * g.rank() - 7), -7);
  EXPECT_TRUE(g.all_of(true));
  EXPECT_FALSE(g.all_of(g.rank() != 1));
  EXPECT_GT(g.sent_bytes(), 0u);
}

TEST(TwoLevelAgreement, ValuesOfEveryRankReachEveryRank) {
  Member m(three_sites());
  const int r = world_rank();
  EXPECT_EQ(m.agreement->max_over(r == 2 ? 99 : r), 99);  // world rank 2: the second rank of site b
  EXPECT_FALSE(m.agreement->all_of(r != 2));
  EXPECT_TRUE(m.agreement->all_of(true));
  const auto [lo, hi] = m.agreement->min_max(100 - 10 * r);
  EXPECT_EQ(lo, 70);
  EXPECT_EQ(hi, 100);
  EXPECT_NO_THROW(m.agreement->agree_startup("", kExitUsage));
}

TEST(TwoLevelAgreement, AFailureOnANonLeaderStopsEveryRankWithTheWorstCode) {
  Member m(three_sites());
  const int r = world_rank();
  // Rank 2 (site b, not its leader) fails with exit 2, rank 3 (site c's leader) with exit 1.
  const std::string error = r == 2 ? "bad key on b" : r == 3 ? "bad data on c" : "";
  try {
    m.agreement->agree_startup(error, r == 2 ? kExitUsage : kExitRuntime);
    ADD_FAILURE() << "no error on rank " << r;
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitUsage);
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("failed on 2 rank(s)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedtrain
