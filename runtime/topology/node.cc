// Which ranks share this rank's node.
#include "runtime/topology/node.h"

#include "runtime/topology/mpi_check.h"

namespace fedtrain {

NodeInfo node_info(const Comm& comm) {
  MPI_Comm shared = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &shared));
  Comm node = Comm::own(shared);
  NodeInfo info;
  info.local_rank = node.rank();
  info.local_size = node.size();
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_CHECK(MPI_Get_processor_name(name, &len));
  info.host.assign(name, len);
  return info;
}

}  // namespace fedtrain
