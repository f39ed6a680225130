// Every rank of an MPI communicator as a site leader with a fresh key pair, linked by the TCP leader transport on 127.0.0.1.
//
// For the benchmarks' --transport tcp and the tests that compare the TCP
// transport with MPI: public keys and ports are exchanged over MPI (a
// benchmark, not a federation), then every rank connects the TCP mesh.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/crypto/manifest.h"
#include "runtime/net/tcp_transport.h"
#include "runtime/topology/comm.h"

namespace fedtrain {

struct LoopbackLeaders {
  // Collective over `comm`: sites "s0", "s1", ... in rank order; the TCP mesh only if `connect`.
  explicit LoopbackLeaders(const Comm& comm, bool connect = true, double timeout_s = 60);
  std::vector<std::string> sites;
  SecretKey key;
  Manifest manifest;
  std::unique_ptr<TcpTransport> transport;  // null unless connected
};

}  // namespace fedtrain
