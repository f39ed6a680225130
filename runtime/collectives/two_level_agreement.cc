// Agreements of every rank of a federation in two levels.
#include "runtime/collectives/two_level_agreement.h"

#include <algorithm>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/host_exchange.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {

TwoLevelAgreement::TwoLevelAgreement(const Topology& topology, LeaderGroup* leaders)
    : topo_(topology), leaders_(leaders) {
  FT_CHECK(leaders_ == nullptr || topo_.is_leader());
}

LeaderGroup& TwoLevelAgreement::leaders() {
  FT_CHECK(leaders_ != nullptr, "the leaders' group exists on site leaders only");
  return *leaders_;
}

void TwoLevelAgreement::reduce(int64_t* values, const Op* ops, int count) {
  FT_CHECK(count <= 4);
  // 1. Inside the site.
  int64_t site[4] = {0, 0, 0, 0};
  for (int i = 0; i < count; ++i)
    MPI_CHECK(MPI_Allreduce(&values[i], &site[i], 1, MPI_INT64_T, ops[i] == Op::kMax ? MPI_MAX : MPI_SUM,
                            topo_.site_comm().get()));
  // 2. Among the leaders: every leader combines every site's values, in site order.
  FT_CHECK(leaders_ != nullptr || !topo_.is_leader() || allow_site_only_,
           "a site leader without the leaders' group outside the start-up checks");
  if (leaders_ != nullptr) {
    const std::string mine(reinterpret_cast<const char*>(site), sizeof(int64_t) * count);
    const std::vector<std::string> all = leaders_->allgather(mine);
    for (int p = 0; p < leaders_->size(); ++p) {
      if (!leaders_->answered(p)) continue;  // a leader lost in the call (one job per site, while training)
      if (all[p].size() != mine.size())
        throw Error("the leader of site '" + leaders_->site(p) + "' sent a " + std::to_string(all[p].size()) +
                    "-byte agreement value where " + std::to_string(mine.size()) +
                    " were expected: the sites run different fedtrain versions");
      if (p == leaders_->rank()) continue;
      for (int i = 0; i < count; ++i) {
        int64_t v = 0;
        std::memcpy(&v, all[p].data() + sizeof(int64_t) * i, sizeof v);
        site[i] = ops[i] == Op::kMax ? std::max(site[i], v) : site[i] + v;
      }
    }
  }
  // 3. The leader's result to its site.
  broadcast_bytes(topo_.site_comm(), site, sizeof(int64_t) * count, 0);
  std::copy(site, site + count, values);
}

void TwoLevelAgreement::agree_startup(const std::string& local_error, int exit_code) {
  if (!local_error.empty()) log_error(local_error);
  int64_t v[2] = {local_error.empty() ? 0 : exit_code, local_error.empty() ? 0 : 1};
  const Op ops[2] = {Op::kMax, Op::kSum};
  allow_site_only_ = true;
  reduce(v, ops, 2);
  allow_site_only_ = false;
  FT_CHECK(v[1] > 0 || leaders_ != nullptr || !topo_.is_leader(), "a leader without the leaders' group, and no error");
  if (v[1] > 0) {
    throw Error("start-up checks failed on " + std::to_string(v[1]) + " rank(s) of the federation (reasons above, "
                "in the logs of the sites concerned); nothing was trained",
                static_cast<int>(v[0]), /*collective=*/true);
  }
}

int64_t TwoLevelAgreement::max_over(int64_t value) {
  const Op op = Op::kMax;
  reduce(&value, &op, 1);
  return value;
}

int64_t TwoLevelAgreement::max_over_site(int64_t value) {
  int64_t site = 0;
  MPI_CHECK(MPI_Allreduce(&value, &site, 1, MPI_INT64_T, MPI_MAX, topo_.site_comm().get()));
  return site;
}

bool TwoLevelAgreement::all_of(bool value) { return max_over(value ? 0 : 1) == 0; }

std::pair<int64_t, int64_t> TwoLevelAgreement::min_max(int64_t value) {
  int64_t v[2] = {-value, value};
  const Op ops[2] = {Op::kMax, Op::kMax};
  reduce(v, ops, 2);
  return {-v[0], v[1]};
}

}  // namespace fedtrain
