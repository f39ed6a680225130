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
// With crypto threads (crypto_workers.h) the ring's own thread keeps every
// transport call, in order, and the workers do the rest chunk by chunk: for
// a send, prepare (first step), seal and hash; for a receive, prepare
// (reduce-scatter), open, then fold and the final sink. Chunks touch
// disjoint elements; a send waits for the receive it forwards to be folded,
// a fold that overwrites what a send reads waits for that send to be sealed,
// and receives are folded in the order they were posted (so a failure stops
// the folding at the same chunk whatever the thread count). Every egress log
// line is still appended by the ring's thread just before its send.
// Integer sums are exact and order-free, so every leader ends with the same
// bits, whatever the number of threads. Chunks that fail to open are not used (their bytes are zeroed, never
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
// once, in no fixed order. Empty: the vector already holds it. With crypto
// threads, calls come from several threads at once (disjoint elements); calls
// with the same `lane` (0 .. lanes-1 of the CryptoWorkers) never overlap.
using LocalSource = std::function<void(size_t first, size_t count, int lane)>;

// Told every piece of the final sum as soon as this leader knows it (its own
// segment after the reduce-scatter, then each chunk the all-gather brings),
// while it is still in cache: (first element, values, count). Once a chunk
// failed to open, no more pieces come (those told before stay told: the
// caller must drop its result when the ring returns a failure). With crypto
// threads, calls come from several threads at once (disjoint elements).
using FinalSink = std::function<void(size_t first, const uint32_t* values, size_t count)>;

class CryptoWorkers;

// In place; returns "" or the first failure seen by this leader. `prepare` and `final` may be empty.
// `workers` null: no crypto threads. The link's round keys need workers->lanes() lanes.
std::string ring_allreduce(SecureLink& link, std::span<uint32_t> data, size_t chunk_bytes,
                           const LocalSource& prepare = {}, const FinalSink& final = {},
                           CryptoWorkers* workers = nullptr);

}  // namespace fedtrain
