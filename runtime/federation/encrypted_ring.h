// Ring all-reduce in Z_2^32 among the site leaders, every chunk sealed with AES-256-GCM.
//
// The vector is cut into n segments (n leaders, leader r sends to r+1 and
// receives from r-1, modulo n):
//   reduce-scatter, steps s = 0 .. n-2: send segment (r - s) mod n,
//       receive segment (r - s - 1) mod n and add it into ours;
//       afterwards leader r holds the full sum of segment (r + 1) mod n.
//   all-gather, steps s = 0 .. n-2: send segment (r + 1 - s) mod n,
//       receive segment (r - s) mod n and take it as the result.
// Each leader sends 2(n-1)/n of the vector, the bandwidth-optimal volume.
// Segments travel in chunks, pipelined across steps: chunk c of step t+1 is
// what arrived as chunk c of step t, so it leaves as soon as that chunk is
// opened and folded in, while the rest of step t is still on the wire. The
// link of each leader stays busy from the first chunk to the last, whatever
// the number of steps (the ring's latency is paid once, not once a step).
// The local contribution is made chunk by chunk too (LocalSource), just
// before it is first sent or summed, so quantising and masking overlap the
// transfer.
// Integer sums are exact and order-free, so every leader ends with the same
// bits. Chunks that fail to open are not used (their bytes are zeroed, never
// added); the protocol still runs to its end on every leader and the first
// failure is returned. From the first failure on, nothing received is folded
// in and the final sink is told nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "runtime/federation/secure_link.h"

namespace fedtrain {

// Asked to write this leader's own contribution into elements [first, first +
// count) of the vector before they are sent or summed; every element exactly
// once, in no fixed order. Empty: the vector already holds it.
using LocalSource = std::function<void(size_t first, size_t count)>;

// Told every piece of the final sum as soon as this leader knows it (its own
// segment after the reduce-scatter, then each chunk the all-gather brings),
// while it is still in cache: (first element, values, count). Once a chunk
// failed to open, no more pieces come (those told before stay told: the
// caller must drop its result when the ring returns a failure).
using FinalSink = std::function<void(size_t first, const uint32_t* values, size_t count)>;

// In place; returns "" or the first failure seen by this leader. `prepare` and `final` may be empty.
std::string ring_allreduce(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes,
                           const LocalSource& prepare = {}, const FinalSink& final = {});

}  // namespace fedtrain
