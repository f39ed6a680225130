// Ring all-reduce in Z_2^32 among the site leaders, every chunk sealed.
#include "runtime/federation/encrypted_ring.h"

#include <cstring>

namespace fedtrain {

std::string ring_allreduce(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes, const FinalSink& final) {
  const int n = link.size(), r = link.self();
  if (n == 1) {
    if (final) final(0, data.data(), data.size());
    return "";
  }
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  auto seg_begin = [&](int k) { return data.size() * static_cast<size_t>(k) / n; };
  auto segment = [&](int k) {
    k = ((k % n) + n) % n;
    return data.subspan(seg_begin(k), seg_begin(k + 1) - seg_begin(k));
  };
  auto bytes_of = [](std::span<uint32_t> s) { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size_bytes()); };
  // Chunks hold whole elements.
  const size_t chunk = std::max<size_t>(sizeof(uint32_t), chunk_bytes / sizeof(uint32_t) * sizeof(uint32_t));

  std::string failure;
  for (int s = 0; s + 1 < n; ++s) {
    std::span<uint32_t> into = segment(r - s - 1);
    std::string why = link.ring_step(Phase::kReduceScatter, static_cast<uint32_t>(s), next, bytes_of(segment(r - s)), prev,
                                     into.size_bytes(), chunk, [&](size_t offset, const uint8_t* p, size_t bytes) {
                                       uint32_t* acc = into.data() + offset / sizeof(uint32_t);
                                       const size_t count = bytes / sizeof(uint32_t);
                                       uint32_t v;
                                       for (size_t i = 0; i < count; ++i) {
                                         std::memcpy(&v, p + i * sizeof(uint32_t), sizeof v);
                                         acc[i] += v;  // mod 2^32
                                       }
                                     });
    if (failure.empty()) failure = why;
  }
  if (final && failure.empty()) {
    std::span<uint32_t> owned = segment(r + 1);
    final(static_cast<size_t>(owned.data() - data.data()), owned.data(), owned.size());
  }
  for (int s = 0; s + 1 < n; ++s) {
    std::span<uint32_t> into = segment(r - s);
    std::string why = link.ring_step(Phase::kAllGather, static_cast<uint32_t>(s), next, bytes_of(segment(r + 1 - s)), prev,
                                     into.size_bytes(), chunk, [&](size_t offset, const uint8_t* p, size_t bytes) {
                                       uint32_t* dst = into.data() + offset / sizeof(uint32_t);
                                       std::memcpy(dst, p, bytes);
                                       // After a failure this leader's sum is not the sum: nothing more is final.
                                       if (final && failure.empty())
                                         final(static_cast<size_t>(dst - data.data()), dst, bytes / sizeof(uint32_t));
                                     });
    if (failure.empty()) failure = why;
  }
  return failure;
}

}  // namespace fedtrain
