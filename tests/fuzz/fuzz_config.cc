// Fuzz target: the config file (INI) and command-line parser, load_config (runtime/core/config.cc).
//
// Input: the INI text, then optionally a NUL byte and command-line arguments separated by NUL
// bytes. The target calls load_config({"--config", FILE, ARGS...}, ""). A ConfigError is the
// expected answer to bad input; anything else escaping is a finding. A config that loads must
// load again from its own resolved text (Config::resolved_text, the INI that "reproduces this
// run" and that checkpoints store) to the same resolved text.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

fedtrain::fuzz::InputFile& ini_file() {
  static fedtrain::fuzz::InputFile f("fuzz-config.ini");
  return f;
}
fedtrain::fuzz::InputFile& resolved_file() {
  static fedtrain::fuzz::InputFile f("fuzz-config-resolved.ini");
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string ini = input.substr(0, nul);
  std::vector<std::string> args = {"--config", ini_file().hold(reinterpret_cast<const uint8_t*>(ini.data()), ini.size())};
  if (nul != std::string::npos) {
    size_t pos = nul + 1;
    while (pos <= input.size()) {
      size_t next = input.find('\0', pos);
      if (next == std::string::npos) next = input.size();
      args.push_back(input.substr(pos, next - pos));
      pos = next + 1;
    }
  }
  fedtrain::Config c;
  try {
    c = fedtrain::load_config(args, "");
  } catch (const fedtrain::ConfigError& e) {
    fedtrain::fuzz::rejected("fuzz_config", e);
    return 0;
  }
  const std::string& text = c.resolved_text;
  std::vector<std::string> again = {
      "--config", resolved_file().hold(reinterpret_cast<const uint8_t*>(text.data()), text.size())};
  if (!c.process_site.empty()) again.push_back("--site=" + c.process_site);
  if (c.resume) again.push_back("--resume");
  for (const std::string& spec : c.inject) again.push_back("--inject=" + spec);
  fedtrain::Config d;
  try {
    d = fedtrain::load_config(again, "");
  } catch (const fedtrain::ConfigError& e) {
    std::fprintf(stderr, "fuzz_config: the resolved config does not load again: %s\n--- resolved:\n%s", e.what(),
                 text.c_str());
    std::abort();
  }
  if (d.resolved_text != text) {
    std::fprintf(stderr, "fuzz_config: the resolved config loads to another one\n--- first:\n%s--- again:\n%s",
                 text.c_str(), d.resolved_text.c_str());
    std::abort();
  }
  return 0;
}
