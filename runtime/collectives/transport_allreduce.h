// Plaintext ring all-reduce (sum) of float or double vectors over any Transport: reduce-scatter, then all-gather.
//
// For n ranks the vector is cut into n segments, segment k = [k*count/n, (k+1)*count/n).
//   reduce-scatter, steps s = 0 .. n-2: rank r sends segment (r - s) mod n to
//       r+1 and adds the segment (r - s - 1) mod n that r-1 sends into its own;
//       then rank r holds the whole sum of segment (r + 1) mod n
//   all-gather, steps s = 0 .. n-2: rank r sends segment (r + 1 - s) mod n to
//       r+1 and takes segment (r - s) mod n from r-1 as it is
// Each rank sends 2(n-1)/n of the vector (bandwidth-optimal, as nccl-tests'
// busbw assumes). The order of additions is fixed, so every rank ends with the
// same bits, run after run: segment k is x_{k-1} + (... + (x_{k+2} + (x_{k+1} + x_k))),
// ranks taken in ring order from k. (That is another order than MPI_Allreduce's, so
// the two agree bit for bit only where the sums are exact.)
// Pipelined: each segment travels in chunks of options.chunk_bytes, chunk c of
// step s+1 leaving as soon as chunk c of step s is in, with options.depth
// receives posted ahead (into slots of a chunk each: the vector itself is only
// sent from, added to and copied into). The additions are the same as unchunked.
// Step s uses tag `tag + s`, s = 0 .. 2(n-1) - 1.
#pragma once

#include <cstddef>
#include <span>

#include "runtime/collectives/transport.h"

namespace fedtrain {

inline constexpr int kTransportAllreduceTag = 900;

struct RingOptions {
  size_t chunk_bytes = size_t{512} << 10;  // bytes per message
  int depth = 4;                          // receives posted ahead, and first-step chunks sent ahead
};

// In place, collective over every rank of `transport`. Throws Error if a peer
// sends a segment longer than expected; the transport's own errors (PeerError) pass through.
void transport_allreduce_sum(Transport& transport, std::span<float> data, int tag = kTransportAllreduceTag,
                             const RingOptions& options = {});
void transport_allreduce_sum(Transport& transport, std::span<double> data, int tag = kTransportAllreduceTag,
                             const RingOptions& options = {});

}  // namespace fedtrain
