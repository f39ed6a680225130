// Which ranks share this rank's node: the local rank that picks a GPU, and the host name for messages.
#pragma once

#include <string>

#include "runtime/topology/comm.h"

namespace fedtrain {

struct NodeInfo {
  int local_rank = 0;   // rank among the processes of `comm` on this node (MPI_COMM_TYPE_SHARED)
  int local_size = 1;   // processes of `comm` on this node
  std::string host;     // MPI_Get_processor_name
};

// Collective over `comm`.
NodeInfo node_info(const Comm& comm);

}  // namespace fedtrain
