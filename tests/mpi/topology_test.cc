// site_comm and leaders_comm for both ways of naming sites, and the layout errors (mpiexec -n 4).
#include <gtest/gtest.h>
#include <mpi.h>

#include "runtime/core/error.h"
#include "runtime/topology/topology.h"
#include "tests/support/mpi_support.h"

namespace fedtrain {
namespace {

using testing::world_rank;

Config blocks(std::vector<std::pair<std::string, int>> sites) {
  Config c;
  for (auto& [name, ranks] : sites) c.sites.push_back({.name = name, .ranks = ranks, .data = name + ".h5"});
  return c;
}

TEST(Topology, ConsecutiveBlocksFromTheConfig) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  ASSERT_EQ(world.size(), 4);
  Topology t = Topology::create(blocks({{"es", 1}, {"de", 3}}), world);
  const int r = world_rank();
  EXPECT_EQ(t.site_index(), r == 0 ? 0 : 1);
  EXPECT_EQ(t.site_name(), r == 0 ? "es" : "de");
  EXPECT_EQ(t.site_rank(), r == 0 ? 0 : r - 1);
  EXPECT_EQ(t.site_size(), r == 0 ? 1 : 3);
  EXPECT_EQ(t.site_comm().size(), t.site_size());
  EXPECT_EQ(t.is_leader(), r <= 1);
  EXPECT_EQ(t.leaders_comm().valid(), r <= 1);
  if (t.is_leader()) {
    EXPECT_EQ(t.leaders_comm().size(), 2);
    EXPECT_EQ(t.leaders_comm().rank(), t.site_index());
  }
  EXPECT_EQ(t.sites()[0].leader_world_rank, 0);
  EXPECT_EQ(t.sites()[1].leader_world_rank, 1);
  EXPECT_EQ(t.describe(), "es=1 de=3");
  // A site sum crosses only the site's ranks.
  int one = 1, sum = 0;
  MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, t.site_comm().get());
  EXPECT_EQ(sum, t.site_size());
}

TEST(Topology, SitesNamedPerProcessMayInterleave) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c = blocks({{"a", 0}, {"b", 0}});
  const int r = world_rank();
  c.process_site = r % 2 == 0 ? "a" : "b";  // as --site or FEDTRAIN_SITE would set it
  Topology t = Topology::create(c, world);
  EXPECT_EQ(t.site_name(), c.process_site);
  EXPECT_EQ(t.site_size(), 2);
  EXPECT_EQ(t.site_rank(), r / 2);
  EXPECT_EQ(t.sites()[0].leader_world_rank, 0);
  EXPECT_EQ(t.sites()[1].leader_world_rank, 1);
  if (t.is_leader()) {
    EXPECT_EQ(t.leaders_comm().rank(), t.site_index());
  }
}

TEST(Topology, ConfiguredRanksMustMatchNamedProcesses) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c = blocks({{"a", 3}, {"b", 1}});
  c.process_site = world_rank() < 2 ? "a" : "b";
  try {
    Topology::create(c, world);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("'a' is configured with ranks = 3 but 2 processes"), std::string::npos)
        << e.what();
  }
}

TEST(Topology, SitesThatDoNotAddUpToTheWorldAreACollectiveConfigError) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  try {
    Topology::create(blocks({{"es", 2}, {"de", 3}}), world);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("add up to 5 ranks (es=2, de=3) but the MPI world has 4"), std::string::npos)
        << e.what();
  }
}

TEST(Topology, EitherEveryProcessNamesItsSiteOrNone) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  Config c = blocks({{"a", 2}, {"b", 2}});
  if (world_rank() == 3) c.process_site = "b";
  EXPECT_THROW(Topology::create(c, world), ConfigError);
}

}  // namespace
}  // namespace fedtrain
