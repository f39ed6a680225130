// fedtrain_forge_checkpoint IN OUT KIND: a hostile copy of checkpoint IN, hashes recomputed, for the end-to-end tests.
#include <cstdio>
#include <string>

#include "runtime/core/error.h"
#include "tests/support/hostile_checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: fedtrain_forge_checkpoint IN.h5 OUT.h5 KIND\nkinds:");
    for (const std::string& k : fedtrain::testing::kHostileKinds) std::fprintf(stderr, " %s", k.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  try {
    fedtrain::testing::ForgedCheckpoint f = fedtrain::testing::forgeable(fedtrain::read_checkpoint_file(argv[1]));
    fedtrain::testing::make_hostile(f, argv[3]);
    fedtrain::testing::write_forged(argv[2], f);
  } catch (const fedtrain::Error& e) {
    std::fprintf(stderr, "fedtrain_forge_checkpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}
