// Bucketed gradient averaging equals the mean over ranks, whatever the bucket size (mpiexec -n 4).
#include <gtest/gtest.h>
#include <mpi.h>

#include "runtime/site/gradient_reducer.h"

namespace fedtrain {
namespace {

TEST(GradientReducer, AverageOverRanksForEveryBucketSize) {
  Comm world = Comm::borrow(MPI_COMM_WORLD);
  auto coll = make_mpi_collectives(world);
  const int n = coll->size(), rank = coll->rank();
  for (size_t bucket_bytes : {size_t{4}, size_t{12}, size_t{1000}, size_t{1} << 20}) {
    GradientReducer reducer(*coll, bucket_bytes);
    std::vector<float> g(1001);
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 17));
    reducer.average(g);
    // mean over ranks of (rank+1)*k = k*(n+1)/2, exact in float for these values
    for (size_t i = 0; i < g.size(); ++i)
      ASSERT_EQ(g[i], static_cast<float>(i % 17) * (n + 1) / 2.0f) << "bucket " << bucket_bytes << " element " << i;
    EXPECT_EQ(reducer.bucket_count(g.size()), (g.size() * 4 + bucket_bytes - 1) / bucket_bytes);
  }
}

}  // namespace
}  // namespace fedtrain
