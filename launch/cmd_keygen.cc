// fedtrain keygen: a site's key pairs, X25519 for secure aggregation and Ed25519 for signing its ledger.
//
//   fedtrain keygen --site es --out keys/   ->  keys/es.key (secret, mode 0600), keys/es.pub (base64)
//                                               keys/es.sign.key (secret, mode 0600), keys/es.sign.pub
// A site that has its X25519 pair already (from a fedtrain before the ledger)
// keeps it: only the missing signing pair is made.
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "launch/commands.h"
#include "runtime/core/config_values.h"
#include "runtime/core/error.h"
#include "runtime/crypto/ed25519.h"
#include "runtime/crypto/x25519.h"

namespace po = boost::program_options;

namespace fedtrain {
namespace {

// A key pair's two files: both there, neither, or an error (half a pair is a mistake to look at).
struct KeyPairFiles {
  std::string secret, pub;
  bool exist() const {
    const bool s = std::filesystem::exists(secret), p = std::filesystem::exists(pub);
    if (s != p)
      throw Error("'" + (s ? secret : pub) + "' exists but '" + (s ? pub : secret) + "' does not: half a key pair; "
                  "restore the missing file, or remove both to make a new pair");
    return s;
  }
};

void write_public_key(const std::string& path, const std::string& b64) {
  std::ofstream(path) << b64 << "\n";
  if (!std::ofstream(path, std::ios::app)) throw Error("cannot write '" + path + "'");
}

// A key pair keygen made: what it is for, its files, its public key and the config keys that name them.
struct MadePair {
  const char* what;
  KeyPairFiles files;
  std::string b64;
  const char* public_key;  // config key of the public half
  const char* secret_key;  // config key of the secret file
};

// The files made or kept, and the config lines every site and this site need.
void print_made(const std::string& site, const std::vector<MadePair>& made, const KeyPairFiles* kept_identity,
                const KeyPairFiles* kept_signing) {
  std::printf("fedtrain keygen: site %s\n", site.c_str());
  if (kept_identity != nullptr)
    std::printf("  kept its X25519 key pair %s, %s\n", kept_identity->secret.c_str(), kept_identity->pub.c_str());
  if (kept_signing != nullptr)
    std::printf("  kept its signing key pair %s, %s\n", kept_signing->secret.c_str(), kept_signing->pub.c_str());
  for (const MadePair& m : made)
    std::printf("  %s: secret key %s (mode 0600: keep it on site %s only), public key %s %s\n", m.what,
                m.files.secret.c_str(), site.c_str(), m.files.pub.c_str(), m.b64.c_str());
  std::printf("In the run config of every site:\n  [site.%s]\n", site.c_str());
  for (const MadePair& m : made) std::printf("  %s = %s\n", m.public_key, m.b64.c_str());
  std::printf("and, on site %s only:\n", site.c_str());
  for (const MadePair& m : made) std::printf("  %s = %s\n", m.secret_key, m.files.secret.c_str());
}

}  // namespace

int cmd_keygen(const std::vector<std::string>& args) {
  std::string site, out;
  po::options_description desc("fedtrain keygen options");
  desc.add_options()("help,h", "this help")("site", po::value(&site), "site name (as in [site.NAME])")(
      "out", po::value(&out), "directory for NAME.key, NAME.pub, NAME.sign.key and NAME.sign.pub (created, mode 0700)");
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
    std::error_code ec;
    if (!std::filesystem::exists(out)) {
      std::filesystem::create_directories(out, ec);
      if (ec) throw Error("cannot create '" + out + "': " + ec.message());
      ::chmod(out.c_str(), 0700);
    }
    const KeyPairFiles identity{out + "/" + site + ".key", out + "/" + site + ".pub"};
    const KeyPairFiles signing{out + "/" + site + ".sign.key", out + "/" + site + ".sign.pub"};
    const bool have_identity = identity.exist(), have_signing = signing.exist();
    if (have_identity && have_signing)
      throw Error("'" + identity.secret + "' and '" + signing.secret + "' exist already; a site keeps its keys: "
                  "remove them first only if you mean to replace the site's identity (every site's config must then "
                  "change, and the site's ledger starts anew)");
    std::vector<MadePair> made;
    if (!have_identity) {
      SecretKey key = SecretKey::generate();
      const PublicKey pub = key.public_key();
      key.save(identity.secret);
      made.push_back({"X25519 (secure aggregation)", identity, to_base64(pub.data(), pub.size()), "public_key", "secret_key"});
    }
    if (!have_signing) {
      SigningKey key = SigningKey::generate();
      const SigningPublicKey pub = key.public_key();
      key.save(signing.secret);
      made.push_back({"Ed25519 (ledger signing)", signing, to_base64(pub.data(), pub.size()), "signing_key",
                      "signing_secret_key"});
    }
    for (const MadePair& m : made) write_public_key(m.files.pub, m.b64);
    print_made(site, made, have_identity ? &identity : nullptr, have_signing ? &signing : nullptr);
  } catch (const Error& e) {
    return report_error(e);
  }
  return kExitOk;
}

}  // namespace fedtrain
