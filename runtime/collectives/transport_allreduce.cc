// Plaintext ring all-reduce (sum) over a Transport.
#include "runtime/collectives/transport_allreduce.h"

#include <vector>

#include "runtime/core/error.h"

namespace fedtrain {
namespace {

template <typename T>
void ring_sum(Transport& t, std::span<T> data, int tag) {
  const int n = t.size(), r = t.rank();
  if (n == 1) return;
  const size_t count = data.size();
  auto seg = [&](int k) {
    const int kk = ((k % n) + n) % n;
    const size_t first = count * static_cast<size_t>(kk) / static_cast<size_t>(n);
    const size_t last = count * static_cast<size_t>(kk + 1) / static_cast<size_t>(n);
    return data.subspan(first, last - first);
  };
  auto bytes_of = [](std::span<T> s) { return std::span<uint8_t>(reinterpret_cast<uint8_t*>(s.data()), s.size_bytes()); };
  const int right = (r + 1) % n, left = (r + n - 1) % n;
  std::vector<T> incoming(count / static_cast<size_t>(n) + 1);
  auto step = [&](std::span<T> send, std::span<T> recv, int step_tag, bool add) {
    std::span<uint8_t> into = add ? std::span<uint8_t>(reinterpret_cast<uint8_t*>(incoming.data()), recv.size_bytes())
                                  : bytes_of(recv);
    Transport::Handle hr = t.irecv(left, step_tag, into);
    Transport::Handle hs = t.isend(right, step_tag, bytes_of(send));
    const size_t got = t.wait(hr);
    t.wait(hs);
    if (got != recv.size_bytes())
      throw Error("all-reduce: leader " + std::to_string(left) + " sent a segment of " +
                  (got == Transport::kTooLong ? std::string("too many") : std::to_string(got)) + " bytes, " +
                  std::to_string(recv.size_bytes()) + " expected (do all leaders reduce vectors of the same length?)");
    if (add)
      for (size_t i = 0; i < recv.size(); ++i) recv[i] = recv[i] + incoming[i];
  };
  for (int s = 0; s < n - 1; ++s) step(seg(r - s), seg(r - s - 1), tag, true);
  for (int s = 0; s < n - 1; ++s) step(seg(r + 1 - s), seg(r - s), tag + 1, false);
}

}  // namespace

void transport_allreduce_sum(Transport& transport, std::span<float> data, int tag) { ring_sum(transport, data, tag); }
void transport_allreduce_sum(Transport& transport, std::span<double> data, int tag) { ring_sum(transport, data, tag); }

}  // namespace fedtrain
