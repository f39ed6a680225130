// fedtrain config: check a config without starting MPI and print it resolved, or its world size.
#include <cstdio>
#include <cstdlib>

#include "launch/commands.h"
#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace fedtrain {

int cmd_config(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  bool world_size = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: fedtrain config --config FILE [--section.key=value ...] [--world-size]\n"
          "Checks the config and prints it resolved (every key, defaults included),\n"
          "or with --world-size only the number of MPI ranks it needs.\n");
      return kExitOk;
    }
    if (a == "--world-size") world_size = true;
    else rest.push_back(a);
  }
  try {
    const char* env_site = std::getenv("FEDTRAIN_SITE");
    Config c = load_config(rest, env_site ? env_site : "");
    if (world_size) {
      auto n = c.world_size();
      if (!n) throw ConfigError("the world size is not fixed: some site has no 'ranks' (sites are named per process)");
      std::printf("%d\n", *n);
    } else {
      std::fputs(c.resolved_text.c_str(), stdout);
    }
  } catch (const Error& e) {
    return report_error(e);
  }
  return kExitOk;
}

}  // namespace fedtrain
