// Fixed-point encoding of the pseudo-gradients for secure aggregation, and its headroom check.
//
// A site's update becomes q_s = round(w_s * clamp(delta_s, -clip, clip) * 2^frac_bits)
// in Z_2^32, with w_s its share of the participants' samples (so the w_s sum
// to 1) and unbiased stochastic rounding. The sum over sites is exact in the
// ring and, read as a signed 32-bit number, is the weighted average times
// 2^frac_bits, as long as it cannot overflow. The check at start demands
//   1 (sign) + ceil(log2 clip) + frac_bits + ceil(log2 n_sites) + 1 (headroom) <= 32
// so that even n sites each at the clip bound fit with a bit to spare; a
// configuration that does not fit is a start-up error, never a warning.
// One quantisation step is 2^-frac_bits.
#pragma once

#include <cstdint>
#include <span>

namespace fedtrain {

struct FixedPoint {
  float clip = 4.0f;
  int frac_bits = 24;

  double step() const;  // 2^-frac_bits
  // Bits the encoding needs for n_sites, by the formula above.
  int required_bits(int n_sites) const;
};

// Throws ConfigError naming federation.clip and federation.frac_bits when the
// encoding does not fit 32 bits for n_sites, and says what would fit.
void check_headroom(const FixedPoint& fp, int n_sites);

class Aes256Ctr;

// out = quantize(x) with scale weight * 2^frac_bits, plus (self < peer) or
// minus (self > peer) the keystream of every mask stream, in one pass over
// memory (blocks that stay in cache). masks[i] belongs to peers[i].
// `out` and `x` may be a part of the whole vector, starting at its element
// `first`: rounding and masks are those of these elements in the whole
// encoding (the streams are moved there), so the parts may come in any order.
// The two timers (may be null) accumulate the seconds spent quantising and masking.
void encode_masked(std::span<uint32_t> out, std::span<const float> x, size_t first, const FixedPoint& fp, double weight,
                   uint64_t rounding_seed, int self, std::span<const int> peers, std::span<Aes256Ctr*> masks,
                   double* quantize_seconds, double* mask_seconds);

}  // namespace fedtrain
