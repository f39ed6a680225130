// Which SIMD level this CPU supports, from CPUID feature bits.
#include "kernels/cpu/isa_dispatch.h"

namespace fedtrain::kernels::cpu {

Isa best_isa() {
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw"))
    return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kBase;
}

}  // namespace fedtrain::kernels::cpu
