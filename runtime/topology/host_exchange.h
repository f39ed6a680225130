// Small exchanges of host memory over a communicator (MPI): stop flags, checkpoint reports, restored state.
//
// These buffers live in host memory on every kind of site, so they go over
// MPI even where a site's gradients go over NCCL. Every call is collective over
// `comm` and must be made by all its members in the same order.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runtime/topology/comm.h"

namespace fedtrain {

// The largest `value` over the members.
int max_over(const Comm& comm, int value);
// Whether `value` holds on every member.
bool all_of(const Comm& comm, bool value);
// `bytes` bytes at `data` from `root` to every member (in pieces below 2 GiB).
void broadcast_bytes(const Comm& comm, void* data, size_t bytes, int root);
// Every member's string (any length), in rank order.
std::vector<std::string> allgather_strings(const Comm& comm, const std::string& mine);

}  // namespace fedtrain
