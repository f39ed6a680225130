// Hot loops compiled once per x86 SIMD level (baseline, AVX2, AVX-512) and picked once by the CPU's features.
//
// fedtrain is built for baseline x86-64 (SSE2), which leaves 2-4x of a vectorised loop's speed unused on
// the CPUs it runs on. A file that wants more writes its loop once as an always_inline function, wraps it
// in three functions (plain, FEDTRAIN_TARGET_AVX2, FEDTRAIN_TARGET_AVX512) and calls the one pick_isa
// returns. By features, not by CPU model (GCC's target_clones("arch=...")), which virtual machines often
// hide. The versions may differ in rounding where the wider ones fuse a multiply and an add.
#pragma once

namespace fedtrain::kernels::cpu {

enum class Isa { kBase, kAvx2, kAvx512 };

// The widest level this CPU supports (kBase off x86-64), at most FEDTRAIN_CPU_ISA when that is set to base,
// avx2 or avx512: to compare the versions on one machine (the tests run each), or to get one machine's
// rounding on another.
Isa best_isa();

// base, avx2 or avx512 by best_isa(). Call once (a function-local static) and keep the pointer.
template <typename Fn>
Fn pick_isa(Fn base, Fn avx2, Fn avx512) {
  switch (best_isa()) {
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx2:
      return avx2;
    case Isa::kBase:
      break;
  }
  return base;
}

}  // namespace fedtrain::kernels::cpu

#if defined(__GNUC__) && defined(__x86_64__)
#define FEDTRAIN_TARGET_AVX2 [[gnu::target("avx2,fma")]]
#define FEDTRAIN_TARGET_AVX512 [[gnu::target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")]]
#else
#define FEDTRAIN_TARGET_AVX2
#define FEDTRAIN_TARGET_AVX512
#endif
