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
  // Collective over `comm`: sites "s0", "s1", ... in rank order; the TCP mesh only if `connect`,
  // every leader listening on `address` (its own, where ranks sit on different hosts).
  explicit LoopbackLeaders(const Comm& comm, bool connect = true, double timeout_s = 60,
                           const std::string& address = "127.0.0.1");
  std::vector<std::string> sites;
  SecretKey key;
  Manifest manifest;
  std::unique_ptr<TcpTransport> transport;  // null unless connected
};

// The IPv4 address of network interface `name` (as NCCL_SOCKET_IFNAME names one); throws ConfigError if it has none.
std::string interface_address(const std::string& name);

}  // namespace fedtrain
