// Which OpenBLAS kernels run, and the fix for CPUs that OpenBLAS does not recognise.
#include "kernels/cpu/blas_core.h"

#include <cblas.h>

#include <cctype>
#include <cstdlib>

namespace fedtrain::kernels::cpu {

std::string blas_description() {
  std::string s = openblas_get_config();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

void set_blas_threads(int threads) { openblas_set_num_threads(threads); }

std::optional<std::string> blas_core_override() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return std::nullopt;
  std::string core = openblas_get_corename();
  for (char& c : core) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool generic = core == "prescott" || core == "core2" || core == "penryn" || core == "dunnington" ||
                       core == "nehalem" || core == "katmai" || core == "coppermine" || core == "northwood" ||
                       core == "banias" || core == "atom" || core == "unknown";
  if (!generic) return std::nullopt;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return std::nullopt;
}

}  // namespace fedtrain::kernels::cpu
