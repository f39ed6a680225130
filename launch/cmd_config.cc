// fedtrain config: check a config and the files it names without starting MPI, and print it
// resolved; or print only the size of an MPI world (no file checks: on several hosts the files may
// be elsewhere): the whole federation's, or with --site NAME that of the site's own job.
#include <cstdio>
#include <cstdlib>

#include "launch/commands.h"
#include "launch/config_files.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

// The ranks of one MPI world: the site's own job with --site NAME (one job per site: every site
// has a leader address), else every site's.
int world_size_of(const Config& c) {
  if (!c.process_site.empty()) {
    const SiteConfig& s = c.sites[c.site_index(c.process_site)];
    if (c.sites.size() > 1 && !c.leaders_addressed())
      throw ConfigError("--site " + s.name + " --world-size gives the size of site " + s.name +
                        "'s own job, but this config runs the sites as one MPI world: one job per site needs "
                        "[site.NAME] leader = HOST:PORT for every site (without --site: the whole world's size)");
    if (s.ranks <= 0)
      throw ConfigError("site '" + s.name + "' has no 'ranks', so the size of its job is not known: set [site." + s.name +
                        "] ranks = N (or --site." + s.name + ".ranks=N)");
    return s.ranks;
  }
  auto n = c.world_size();
  if (!n) throw ConfigError("the world size is not fixed: some site has no 'ranks' (sites are named per process)");
  return *n;
}

}  // namespace

int cmd_config(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  bool world_size = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: fedtrain config --config FILE [--site NAME] [--section.key=value ...] [--world-size]\n"
          "Checks the config and the files it names (data, test and validation sets, keys: readable,\n"
          "the secret key matching its public key; metrics, egress logs, checkpoint folders: creatable)\n"
          "and prints it resolved: every key, defaults included, paths absolute. With --site NAME (or\n"
          "FEDTRAIN_SITE) only that site's own files are checked. Exit 2 names the key and path at fault.\n"
          "With --world-size it prints only the number of MPI ranks the config needs, checking no files:\n"
          "all sites together (one MPI world), or with --site NAME (or FEDTRAIN_SITE) that site's ranks,\n"
          "the size of its own job when every site runs its own (one job per site: every site has a\n"
          "leader address).\n");
      return kExitOk;
    }
    if (a == "--world-size") world_size = true;
    else rest.push_back(a);
  }
  try {
    const char* env_site = std::getenv("FEDTRAIN_SITE");
    Config c = load_config(rest, env_site ? env_site : "");
    if (world_size) {
      std::printf("%d\n", world_size_of(c));
    } else {
      check_config_files(c);
      std::fputs(c.resolved_text.c_str(), stdout);
    }
  } catch (const Error& e) {
    return report_error(e);
  }
  return kExitOk;
}

}  // namespace fedtrain
