// fedtrain egress: check a site's egress log (verify), without MPI.
#include <cstdio>
#include <string>

#include "launch/commands.h"
#include "runtime/core/error.h"
#include "runtime/federation/egress_log.h"

namespace fedtrain {
namespace {

const char* kEgressUsage =
    "usage: fedtrain egress verify FILE   checks that every line of a site's egress log is a record and that\n"
    "                                     the chain of hashes is intact; prints records, bytes, rounds and\n"
    "                                     the head of the chain (the hash the next line must carry)\n"
    "Exit codes: 0 intact, 1 a line removed, edited, moved or cut short (each problem printed with its\n"
    "line number), 2 bad usage or a file that cannot be read. Lines cut from the end at a line boundary\n"
    "leave an intact chain: compare the head with one noted earlier (docs/security.md, 'The egress log').\n";

int verify(const std::string& path) {
  EgressLogCheck c;
  try {
    c = verify_egress_log(path);
  } catch (const Error& e) {
    throw Error(e.what(), kExitUsage);  // unreadable: not a verdict on the log
  }
  const std::string rounds = c.rounds == 0 ? "no rounds"
                                           : "rounds " + std::to_string(c.first_round) + " to " +
                                                 std::to_string(c.last_round) + " (" + std::to_string(c.rounds) +
                                                 " distinct; round 0 is the session set-up)";
  if (c.intact()) {
    std::printf("ok: %s: %llu records, %llu bytes sent, %s, head %s\n", path.c_str(),
                static_cast<unsigned long long>(c.lines), static_cast<unsigned long long>(c.bytes), rounds.c_str(),
                to_hex(c.head).c_str());
    return kExitOk;
  }
  for (const EgressProblem& p : c.problems)
    std::printf("damaged: %s: line %llu %s\n", path.c_str(), static_cast<unsigned long long>(p.line), p.what.c_str());
  if (c.problems_left_out > 0)
    std::printf("damaged: %s: %llu more problems not shown\n", path.c_str(),
                static_cast<unsigned long long>(c.problems_left_out));
  std::printf("failed: %s: %llu problem(s) in %llu lines: the log is not a trustworthy record of what left the site\n",
              path.c_str(), static_cast<unsigned long long>(c.problems.size() + c.problems_left_out),
              static_cast<unsigned long long>(c.lines));
  return kExitRuntime;
}

}  // namespace

int cmd_egress(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kEgressUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  try {
    if (args.size() != 2 || args[0] != "verify") throw ConfigError("usage: fedtrain egress verify FILE");
    return verify(args[1]);
  } catch (const Error& e) {
    return report_error(e);
  }
}

}  // namespace fedtrain
