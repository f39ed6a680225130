// Deterministic Fisher-Yates shuffle: the same permutation for the same seed on every platform
// (std::shuffle's algorithm is left to the standard library).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace fedtrain {

// Uniform integer in [0, n), n > 0, without modulo bias (rejection of the top partial range).
inline uint64_t uniform_below(std::mt19937_64& gen, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = gen();
  while (x >= limit) x = gen();
  return x % n;
}

template <typename T>
void shuffle(std::vector<T>& v, std::mt19937_64& gen) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(gen, i)]);
}

// Mixes several integers into one 64-bit seed (splitmix64 finaliser).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace fedtrain
