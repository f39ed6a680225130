// exp(x) for x <= 0 in float that the compiler vectorises: the GELU and attention-softmax loops call it.
//
// std::exp is a library call per element (glibc's expf, tanhf: 5-25 ns each here), so a loop over it
// stays scalar; this one is a handful of multiplies and adds that GCC turns into SIMD at -O3:
//   x clamped to [-88, 0], NaN to -88 (a float-to-int conversion of NaN would be undefined);
//   n = round(x / ln 2) (the 1.5 * 2^23 trick: no rounding instruction needed), in [-127, 0];
//   r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 split in two, Cody-Waite: n * kLn2Hi is exact);
//   exp(x) = 2^n * p(r), p the Taylor polynomial of degree 7 (truncation r^8/8! < 6e-9);
//   2^n from its exponent bits; n = -127 gives the bits of +0, so exp(x) = 0 exactly for x <= -88.
// Relative error below 1e-7 (1.5 float ulps) against std::exp down to -87.3 (FLT_MIN), the result
// denormal only for x in (-88, -87.3). NaN gives 0: the GELU multiplies it by x, which carries the NaN on.
//
// Why only x <= 0, and why 0 and not FLT_MIN at the low end: GCC threads the clamp's branches, so a loop
// contains a copy of its body for the clamped constant. An upper clamp at 88 would put x / (1 + exp(88))
// in every GELU iteration: a denormal, and a denormal operation costs about 100x a normal one (16 ns per
// element measured here). Clamping to 0 and 88 ln-2-steps below, that copy works with 1 and with 0.
// Needs IEEE arithmetic as written (no -ffast-math, which would fold the rounding trick away).
#pragma once

#include <bit>
#include <cstdint>

namespace fedtrain::kernels::cpu {

[[gnu::always_inline]] inline float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 355/512, 9 significant bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;    // 1.5 * 2^23: adding and subtracting it rounds to an integer
  x = x >= -88.0f ? x : -88.0f;
  x = x > 0.0f ? 0.0f : x;
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 720.0f + r * (1.0f / 5040.0f);
  p = 1.0f / 120.0f + r * p;
  p = 1.0f / 24.0f + r * p;
  p = 1.0f / 6.0f + r * p;
  p = 0.5f + r * p;
  p = 1.0f + r * p;
  p = 1.0f + r * p;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * scale;
}

}  // namespace fedtrain::kernels::cpu
