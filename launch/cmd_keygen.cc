// fedtrain keygen: a site's X25519 key pair for secure aggregation.
//
//   fedtrain keygen --site es --out keys/   ->  keys/es.key (secret, mode 0600), keys/es.pub (base64)
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "launch/commands.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/crypto/x25519.h"

namespace po = boost::program_options;

namespace fedtrain {

int cmd_keygen(const std::vector<std::string>& args) {
  std::string site, out;
  po::options_description desc("fedtrain keygen options");
  desc.add_options()("help,h", "this help")("site", po::value(&site), "site name (as in [site.NAME])")(
      "out", po::value(&out), "directory for NAME.key and NAME.pub (created, mode 0700)");
  try {
    po::variables_map vm;
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(desc).style(style).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("usage: fedtrain keygen --site NAME --out DIR\n\n");
      std::cout << desc;
      return kExitOk;
    }
    if (site.empty() || out.empty()) throw ConfigError("fedtrain keygen: --site NAME and --out DIR are required");
    config_values::parse_name("--site", site);
  } catch (const po::error& e) {
    return report_error(ConfigError(std::string("fedtrain keygen: ") + e.what()));
  } catch (const Error& e) {
    return report_error(e);
  }
  try {
    const std::string key_path = out + "/" + site + ".key", pub_path = out + "/" + site + ".pub";
    std::error_code ec;
    if (!std::filesystem::exists(out)) {
      std::filesystem::create_directories(out, ec);
      if (ec) throw Error("cannot create '" + out + "': " + ec.message());
      ::chmod(out.c_str(), 0700);
    }
    if (std::filesystem::exists(key_path) || std::filesystem::exists(pub_path))
      throw Error("'" + key_path + "' or '" + pub_path + "' exists already; a site keeps its key: remove both "
                  "first only if you mean to replace the site's identity (every site's config must then change)");
    SecretKey key = SecretKey::generate();
    const PublicKey pub = key.public_key();
    const std::string b64 = to_base64(pub.data(), pub.size());
    key.save(key_path);
    std::ofstream(pub_path) << b64 << "\n";
    if (!std::ofstream(pub_path, std::ios::app)) throw Error("cannot write '" + pub_path + "'");
    std::printf(
        "fedtrain keygen: site %s\n"
        "  secret key  %s  (mode 0600: keep it on site %s only)\n"
        "  public key  %s  %s\n"
        "In the run config of every site:\n"
        "  [site.%s]\n"
        "  public_key = %s\n"
        "and, on site %s only:\n"
        "  secret_key = %s\n",
        site.c_str(), key_path.c_str(), site.c_str(), pub_path.c_str(), b64.c_str(), site.c_str(), b64.c_str(),
        site.c_str(), key_path.c_str());
  } catch (const Error& e) {
    return report_error(e);
  }
  return kExitOk;
}

}  // namespace fedtrain
