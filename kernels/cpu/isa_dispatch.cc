// Which SIMD level this CPU supports, from CPUID feature bits, capped by FEDTRAIN_CPU_ISA.
#include "kernels/cpu/isa_dispatch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fedtrain::kernels::cpu {

namespace {

Isa supported_isa() {
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kBase;
}

}  // namespace

Isa best_isa() {
  const Isa supported = supported_isa();
  const char* cap = std::getenv("FEDTRAIN_CPU_ISA");
  if (cap == nullptr) return supported;
  Isa wanted;
  if (std::strcmp(cap, "base") == 0) {
    wanted = Isa::kBase;
  } else if (std::strcmp(cap, "avx2") == 0) {
    wanted = Isa::kAvx2;
  } else if (std::strcmp(cap, "avx512") == 0) {
    wanted = Isa::kAvx512;
  } else {
    std::fprintf(stderr, "fedtrain: warning: FEDTRAIN_CPU_ISA=%s is none of base, avx2, avx512; ignored\n", cap);
    return supported;
  }
  return std::min(wanted, supported);
}

}  // namespace fedtrain::kernels::cpu
