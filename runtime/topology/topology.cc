// World -> site_comm + leaders_comm.
#include "runtime/topology/topology.h"

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/core/log.h"
#include "runtime/topology/mpi_check.h"
#include "runtime/topology/node.h"

namespace fedtrain {

Topology Topology::create(const Config& config, const Comm& world) {
  Topology t;
  t.world_ = Comm::borrow(world.get());
  t.world_rank_ = world.rank();
  t.world_size_ = world.size();
  const int n_sites = static_cast<int>(config.sites.size());

  // Every rank learns every rank's site: from the blocks, or from what each process named.
  std::vector<int> site_of(t.world_size_, -1);
  int mine = config.process_site.empty() ? -1 : config.site_index(config.process_site);
  MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, site_of.data(), 1, MPI_INT, world.get()));
  int named = 0;
  for (int s : site_of) named += s >= 0;

  t.sites_.resize(n_sites);
  for (int i = 0; i < n_sites; ++i) t.sites_[i].name = config.sites[i].name;

  if (named == 0) {
    std::optional<int> want = config.world_size();
    std::string layout;
    for (const auto& s : config.sites) layout += (layout.empty() ? "" : ", ") + s.name + "=" + std::to_string(s.ranks);
    if (!want || *want != t.world_size_) {
      throw ConfigError("the sites add up to " + (want ? std::to_string(*want) : std::string("?")) + " ranks (" +
                            layout + ") but the MPI world has " + std::to_string(t.world_size_) +
                            " ranks: start the job with mpirun -n " + (want ? std::to_string(*want) : std::string("N")) +
                            ", or change [site.NAME] ranks",
                        /*collective=*/true);
    }
    int r = 0;
    for (int i = 0; i < n_sites; ++i)
      for (int k = 0; k < config.sites[i].ranks; ++k) site_of[r++] = i;
  } else if (named != t.world_size_) {
    int first = 0;
    while (site_of[first] >= 0) ++first;
    throw ConfigError("world rank " + std::to_string(first) +
                          " does not name its site while others do: give every process --site NAME or FEDTRAIN_SITE",
                      /*collective=*/true);
  }

  // One job per site: every process names one site, and the sites' leaders are addressed.
  bool one_site = named == t.world_size_ && config.leaders_addressed() && n_sites > 1;
  for (int s : site_of) one_site = one_site && s == site_of[0];
  if (one_site) return Topology::one_site(config, world);

  std::vector<int> count(n_sites, 0);
  for (int r = t.world_size_ - 1; r >= 0; --r) {
    ++count[site_of[r]];
    t.sites_[site_of[r]].leader_world_rank = r;
  }
  for (int i = 0; i < n_sites; ++i) {
    const auto& s = config.sites[i];
    if (count[i] == 0)
      throw ConfigError("site '" + s.name + "' has no ranks: start at least one process with --site " + s.name +
                            (config.leaders_addressed() ? std::string()
                                                        : ", or run one job per site: give every site [site.NAME] "
                                                          "leader = HOST:PORT"),
                        /*collective=*/true);
    if (s.ranks > 0 && s.ranks != count[i])
      throw ConfigError("site '" + s.name + "' is configured with ranks = " + std::to_string(s.ranks) + " but " +
                            std::to_string(count[i]) + " processes name it",
                        /*collective=*/true);
    t.sites_[i].ranks = count[i];
  }

  t.site_index_ = site_of[t.world_rank_];
  t.site_comm_ = world.split(t.site_index_, t.world_rank_);
  t.site_rank_ = t.site_comm_.rank();
  t.site_ranks_on_node_ = node_info(t.site_comm_).local_size;
  FT_CHECK(t.site_comm_.size() == count[t.site_index_]);
  t.leaders_comm_ = world.split(t.site_rank_ == 0 ? 0 : MPI_UNDEFINED, t.site_index_);
  if (t.is_leader()) FT_CHECK(t.leaders_comm_.rank() == t.site_index_ && t.leaders_comm_.size() == n_sites);

  set_process_label("rank " + std::to_string(t.world_rank_) + " " + t.site_name() + ":" + std::to_string(t.site_rank_));
  return t;
}

Topology Topology::one_site(const Config& config, const Comm& world) {
  Topology t;
  t.one_job_per_site_ = true;
  t.world_ = Comm::borrow(world.get());
  t.world_rank_ = world.rank();
  t.world_size_ = world.size();
  t.site_index_ = config.site_index(config.process_site);
  for (const auto& s : config.sites) t.sites_.push_back({s.name, 0, 0});
  const SiteConfig& mine = config.sites[t.site_index_];
  if (mine.ranks > 0 && mine.ranks != t.world_size_)
    throw ConfigError("site '" + mine.name + "' is configured with ranks = " + std::to_string(mine.ranks) +
                          " but its job has " + std::to_string(t.world_size_) + " processes",
                      /*collective=*/true);
  t.sites_[t.site_index_].ranks = t.world_size_;
  t.site_comm_ = world.split(0, t.world_rank_);
  t.site_rank_ = t.site_comm_.rank();
  t.site_ranks_on_node_ = node_info(t.site_comm_).local_size;
  set_process_label("rank " + std::to_string(t.world_rank_) + " " + t.site_name() + ":" + std::to_string(t.site_rank_));
  return t;
}

std::string Topology::describe() const {
  std::string out;
  for (const auto& s : sites_)
    out += (out.empty() ? "" : " ") + s.name + "=" + (s.ranks > 0 ? std::to_string(s.ranks) : std::string("?"));
  return out;
}

}  // namespace fedtrain
