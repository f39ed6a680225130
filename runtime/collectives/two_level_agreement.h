// Agreements of every rank of a federation in two levels: inside each site, then among the site leaders.
//
// Every call, on every rank of every site (collective, same order everywhere):
//   1. site      the value is reduced over site_comm (MPI_Allreduce)
//   2. leaders   each leader combines its site's result with the others' over
//                the LeaderGroup (the leader Transport: MPI over leaders_comm in
//                one world, TCP with one job per site)
//   3. site      the leader broadcasts the federation's result over site_comm
// So no agreement spans MPI_COMM_WORLD, and the same code runs whether the
// sites share one MPI world or each runs its own job.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "runtime/collectives/leader_group.h"
#include "runtime/topology/topology.h"

namespace fedtrain {

class TwoLevelAgreement {
 public:
  // `leaders` on site leaders (it must outlive this), nullptr on the other ranks.
  // A leader that could not join the others (one job per site: it could not
  // load its key or connect) has none either: its site's start-up checks are
  // then agreed in the site alone, and fail with its error.
  TwoLevelAgreement(const Topology& topology, LeaderGroup* leaders);

  // `local_error` empty: this rank is fine. Otherwise it is logged here, and on
  // every rank a collective Error with the highest `exit_code` seen is thrown.
  void agree_startup(const std::string& local_error, int exit_code);
  // The largest value over every rank.
  int64_t max_over(int64_t value);
  // Whether `value` holds on every rank.
  bool all_of(bool value);
  // The largest value over this site's ranks only (step 1 alone).
  int64_t max_over_site(int64_t value);
  // Minimum and maximum of `value` over every rank.
  std::pair<int64_t, int64_t> min_max(int64_t value);

  const Topology& topology() const { return topo_; }
  // The leaders' group (leaders only).
  LeaderGroup& leaders();

 private:
  enum class Op { kMax, kSum };
  // Steps 1-3: values[i] combined by ops[i] over every rank (count at most 4).
  void reduce(int64_t* values, const Op* ops, int count);

  const Topology& topo_;
  LeaderGroup* leaders_;
  bool allow_site_only_ = false;  // inside agree_startup
};

}  // namespace fedtrain
