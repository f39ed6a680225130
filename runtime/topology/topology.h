// World -> site_comm + leaders_comm: the two levels of a federation.
//
//   MPI_COMM_WORLD --split by site--> site_comm    (all ranks of one site)
//                  \-split leaders--> leaders_comm (rank 0 of each site; the only inter-site traffic)
//
// Sites are either consecutive blocks of world ranks ([site.NAME] ranks = N, in
// the order the sites are listed) or named per process (--site NAME or
// FEDTRAIN_SITE, e.g. one MPMD app context per site). The leader of a site is
// its lowest world rank; leaders_comm rank == site index.
//
// One job per site: when every process of the world names the same site and
// every site has a leader address ([site.NAME] leader), while the config
// lists more than one site, the world is that site alone: site_comm is the
// world, leaders_comm does not exist, and the leader reaches the others over
// TCP (the leader Transport; see LeaderExchange). Nothing above the two
// levels (agreements, rounds) differs between the modes.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/topology/comm.h"

namespace fedtrain {

struct SiteLayout {
  std::string name;
  int ranks = 0;
  int leader_world_rank = 0;
};

class Topology {
 public:
  // Collective over `world`. Throws a collective ConfigError when the layout
  // does not match the world (every rank sees the same mismatch).
  static Topology create(const Config& config, const Comm& world);

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int site_index() const { return site_index_; }
  const std::string& site_name() const { return sites_[site_index_].name; }
  int site_rank() const { return site_rank_; }
  int site_size() const { return sites_[site_index_].ranks; }
  bool is_leader() const { return site_rank_ == 0; }
  // Ranks of this site on this rank's node (MPI_COMM_TYPE_SHARED within site_comm), this one included.
  int site_ranks_on_node() const { return site_ranks_on_node_; }
  int n_sites() const { return static_cast<int>(sites_.size()); }
  // This MPI world is one site's job; the other sites run jobs of their own.
  bool one_job_per_site() const { return one_job_per_site_; }
  const std::vector<SiteLayout>& sites() const { return sites_; }

  const Comm& world() const { return world_; }
  const Comm& site_comm() const { return site_comm_; }
  const Comm& leaders_comm() const { return leaders_comm_; }  // invalid on non-leaders, and with one job per site

  // "es=2 de=2"; with one job per site the other sites' rank counts are theirs to know: "es=2 de=? fr=?"
  std::string describe() const;

 private:
  static Topology one_site(const Config& config, const Comm& world);

  int world_rank_ = 0, world_size_ = 0, site_index_ = 0, site_rank_ = 0, site_ranks_on_node_ = 1;
  bool one_job_per_site_ = false;
  std::vector<SiteLayout> sites_;
  Comm world_, site_comm_, leaders_comm_;
};

}  // namespace fedtrain
