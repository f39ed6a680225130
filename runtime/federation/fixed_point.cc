// Fixed-point encoding of the pseudo-gradients for secure aggregation.
#include "runtime/federation/fixed_point.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "kernels/cpu/kernels.h"
#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/crypto/aes.h"
#include "runtime/crypto/secret_bytes.h"

namespace fedtrain {
namespace {

int ceil_log2(double x) { return x <= 1.0 ? 0 : static_cast<int>(std::ceil(std::log2(x))); }

}  // namespace

double FixedPoint::step() const { return std::ldexp(1.0, -frac_bits); }

int FixedPoint::required_bits(int n_sites) const { return 1 + ceil_log2(clip) + frac_bits + ceil_log2(n_sites) + 1; }

void check_headroom(const FixedPoint& fp, int n_sites) {
  const int need = fp.required_bits(n_sites);
  if (need <= 32) return;
  std::ostringstream msg;
  msg << "secure aggregation cannot fit federation.clip = " << fp.clip << " with federation.frac_bits = "
      << fp.frac_bits << " for " << n_sites << " sites in 32 bits: it needs 1 (sign) + " << ceil_log2(fp.clip)
      << " (clip) + " << fp.frac_bits << " (fraction) + " << ceil_log2(n_sites) + 1 << " (headroom for " << n_sites
      << " sites) = " << need << " bits; set federation.frac_bits to at most " << fp.frac_bits - (need - 32)
      << " or lower federation.clip";
  throw ConfigError(msg.str());
}

void encode_masked(std::span<uint32_t> out, std::span<const float> x, size_t first, const FixedPoint& fp, double weight,
                   uint64_t rounding_seed, int self, std::span<const int> peers, std::span<Aes256Ctr*> masks,
                   double* quantize_seconds, double* mask_seconds) {
  using Clock = std::chrono::steady_clock;
  double tq = 0.0, tm = 0.0;
  FT_CHECK(out.size() == x.size() && peers.size() == masks.size());
  constexpr size_t kBlock = 4096;  // elements: 16 KiB of output and of keystream, in L1/L2
  const double scale = weight * std::ldexp(1.0, fp.frac_bits);
  SecretBuffer<uint32_t> ks(kBlock);  // a block of mask keystream: wiped when done
  for (Aes256Ctr* m : masks) m->seek(first * sizeof(uint32_t));
  for (size_t b = 0; b < out.size(); b += kBlock) {
    const size_t n = std::min(kBlock, out.size() - b);
    uint32_t* o = out.data() + b;
    const auto t0 = Clock::now();
    kernels::cpu::quantize(o, x.data() + b, n, fp.clip, scale, rounding_seed, first + b);
    const auto t1 = Clock::now();
    tq += std::chrono::duration<double>(t1 - t0).count();
    for (size_t p = 0; p < peers.size(); ++p) {
      masks[p]->next(reinterpret_cast<uint8_t*>(ks.data()), n * sizeof(uint32_t));
      if (self < peers[p]) {
        for (size_t i = 0; i < n; ++i) o[i] += ks[i];
      } else {
        for (size_t i = 0; i < n; ++i) o[i] -= ks[i];
      }
    }
    tm += std::chrono::duration<double>(Clock::now() - t1).count();
  }
  if (quantize_seconds != nullptr) *quantize_seconds += tq;
  if (mask_seconds != nullptr) *mask_seconds += tm;
}

}  // namespace fedtrain
