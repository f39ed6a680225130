// Which OpenBLAS kernels run, and the fix for CPUs that OpenBLAS does not recognise.
//
// OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels from the
// CPUID family/model when the library loads. Virtual machines often report a
// generic model ("Intel Xeon Processor"), and OpenBLAS then falls back to its
// Prescott (SSE3) kernels: about 3x slower sgemm on a CPU with AVX-512.
// OPENBLAS_CORETYPE overrides the choice, but only before the library loads,
// so fedtrain's main() restarts itself once with it set (see launch/main.cc).
#pragma once

#include <optional>
#include <string>

namespace fedtrain::kernels::cpu {

// "OpenBLAS 0.3.21 ... SkylakeX"
std::string blas_description();
// The OPENBLAS_CORETYPE that suits this CPU when OpenBLAS chose a generic
// core although the CPU has AVX2 or AVX-512 and OPENBLAS_CORETYPE is unset.
std::optional<std::string> blas_core_override();

// The threads of every later sgemm (openblas_set_num_threads). OpenBLAS splits
// a product among its threads differently for each thread count, and its sums
// then round differently: the count must come from the run's config, never
// from the launcher's environment, for a config to train one model however it
// is launched.
void set_blas_threads(int threads);

}  // namespace fedtrain::kernels::cpu
