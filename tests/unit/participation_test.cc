// Which sites take part in a round: sample counts that no site can hold make it sit the round out.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/federation/participation.h"

namespace fedtrain {
namespace {

// Sites 0 and 2 are honest (100 and 50 samples); site 1 reports `samples`.
Participation with_middle_site_reporting(double samples) {
  std::vector<UpdateStatus> statuses(3);
  statuses[0].samples = 100;
  statuses[1].samples = samples;
  statuses[2].samples = 50;
  for (auto& s : statuses) s.norm = 1.0;
  return decide_participation(statuses, /*min_sites=*/2, /*max_update_norm=*/0.0);
}

TEST(Participation, HonestSitesTakePartWeightedByTheirSamples) {
  const Participation p = with_middle_site_reporting(25);
  EXPECT_EQ(p.takes_part, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(p.reasons, (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(p.total_samples, 175.0);
  EXPECT_EQ(p.participants, 3);
  EXPECT_FALSE(p.abandoned);
}

// Each of these would, taken into the total, zero every honest weight (inf, 1e300), turn every
// weight into NaN (nan), or give weights that do not sum to 1 or change sign (0, negative).
TEST(Participation, AnImpossibleSampleCountSitsTheRoundOut) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    double samples;
    std::string printed;
  };
  const Case cases[] = {
      {inf, "inf"},
      {-inf, "-inf"},
      {std::nan(""), "nan"},
      {-1, "-1"},
      {0, "0"},
      {-0.0, "-0"},
      {1e300, "1e+300"},
      {std::numeric_limits<double>::denorm_min(), "4.94065645841247e-324"},
      {0.5, "0.5"},
      {100.25, "100.25"},                  // rows of training data are whole numbers
      {std::ldexp(1.0, 53) + 2, "9.00719925474099e+15"},  // above 2^53, where doubles stop counting in ones
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("samples = " + c.printed);
    const Participation p = with_middle_site_reporting(c.samples);
    EXPECT_EQ(p.takes_part, (std::vector<bool>{true, false, true}));
    EXPECT_EQ(p.reasons[1], "it reports an impossible sample count " + c.printed +
                                " (a count of training rows is a whole number from 1 to 2^53)");
    EXPECT_EQ(p.reasons[0], "");
    EXPECT_EQ(p.reasons[2], "");
    EXPECT_EQ(p.total_samples, 150.0);
    EXPECT_EQ(p.participants, 2);
    EXPECT_FALSE(p.abandoned);
  }
}

TEST(Participation, TheLargestCountsStillTakePart) {
  const Participation p = with_middle_site_reporting(std::ldexp(1.0, 53));
  EXPECT_TRUE(p.takes_part[1]) << p.reasons[1];
  EXPECT_TRUE(std::isfinite(p.total_samples));
  EXPECT_EQ(with_middle_site_reporting(1).participants, 3);
}

TEST(Participation, BelowQuorumTheRoundIsAbandoned) {
  std::vector<UpdateStatus> statuses(2);
  statuses[0].samples = 10;
  statuses[1].samples = std::numeric_limits<double>::infinity();
  const Participation p = decide_participation(statuses, 2, 0.0);
  EXPECT_EQ(p.participants, 1);
  EXPECT_EQ(p.total_samples, 10.0);
  EXPECT_TRUE(p.abandoned);
}

}  // namespace
}  // namespace fedtrain
