// Every rank of an MPI communicator as a site leader, linked by the TCP leader transport on 127.0.0.1.
#include "bench/loopback_leaders.h"

#include <mpi.h>

#include <boost/asio.hpp>

#include "runtime/topology/mpi_check.h"

namespace fedtrain {
namespace {

// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

Manifest gather_manifest(const Comm& comm, const SecretKey& key, std::vector<std::string>& sites) {
  const int n = comm.size();
  const PublicKey mine = key.public_key();
  std::vector<uint8_t> all(32 * static_cast<size_t>(n));
  MPI_CHECK(MPI_Allgather(mine.data(), 32, MPI_BYTE, all.data(), 32, MPI_BYTE, comm.get()));
  std::vector<ManifestEntry> entries;
  for (int s = 0; s < n; ++s) {
    sites.push_back("s" + std::to_string(s));
    ManifestEntry e{sites[s], {}};
    std::copy(all.begin() + 32 * s, all.begin() + 32 * (s + 1), e.public_key.begin());
    entries.push_back(e);
  }
  return Manifest(entries);
}

}  // namespace

LoopbackLeaders::LoopbackLeaders(const Comm& comm, bool connect, double timeout_s)
    : key(SecretKey::generate()), manifest(gather_manifest(comm, key, sites)) {
  if (!connect) return;
  const int n = comm.size();
  int port = free_loopback_port();
  std::vector<int> ports(n);
  MPI_CHECK(MPI_Allgather(&port, 1, MPI_INT, ports.data(), 1, MPI_INT, comm.get()));
  TcpTransportOptions o;
  for (int s = 0; s < n; ++s) {
    const std::string address = "127.0.0.1:" + std::to_string(ports[s]);
    o.leaders.push_back({sites[s], address, address});
  }
  o.self = comm.rank();
  o.manifest = &manifest;
  o.secret = &key;
  o.connect_timeout_s = timeout_s;
  o.peer_timeout_s = timeout_s;
  transport = connect_tcp_transport(o);
}

}  // namespace fedtrain
