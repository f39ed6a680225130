// The release build's command line: config.cc compiled with fault injection off, as in a build without tests.
#include <gtest/gtest.h>

#include "runtime/core/config.h"
#include "runtime/core/error.h"

namespace fedtrain {
namespace {

static_assert(FEDTRAIN_WITH_FAULT_INJECTION == 0, "this test compiles the release path");

TEST(ReleaseConfig, InjectDoesNotExist) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--inject", "tamper:site=es,round=1"},
        std::vector<std::string>{"--inject=nan:site=es,round=2"}}) {
    try {
      load_config(args, "");
      FAIL() << "--inject was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--inject: fault injection is test-only and not compiled into this build"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace fedtrain
