// Every rank of an MPI communicator as a site leader, linked by the TCP leader transport on 127.0.0.1.
#include "bench/loopback_leaders.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <mpi.h>
#include <netinet/in.h>

#include <set>
#include <string>

#include <boost/asio.hpp>

#include "runtime/core/check.h"
#include "runtime/core/error.h"
#include "runtime/topology/mpi_check.h"

namespace fedtrain {
namespace {

// A port on `address` that was free a moment ago (bound to port 0, then released).
int free_port(const std::string& address) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(address), 0));
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

std::string interface_address(const std::string& name) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) throw Error("getifaddrs failed");
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || name != a->ifa_name) continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    found = text;
  }
  freeifaddrs(list);
  if (found.empty()) throw ConfigError("network interface '" + name + "' has no IPv4 address here (see `ip -4 addr`)", true);
  return found;
}

LoopbackLeaders::LoopbackLeaders(const Comm& comm, bool connect, double timeout_s, const std::string& address)
    : key(SecretKey::generate()), manifest(gather_manifest(comm, key, sites)) {
  if (!connect) return;
  const int n = comm.size();
  // Every leader's address and port, gathered over MPI. Two ranks on one
  // address can be handed the same just-released port: then all pick again.
  constexpr size_t kText = 64;
  std::vector<char> all(kText * static_cast<size_t>(n));
  for (bool distinct = false; !distinct;) {
    char mine[kText] = {0};
    const std::string listen = address + ":" + std::to_string(free_port(address));
    FT_CHECK(listen.size() < kText);
    std::copy(listen.begin(), listen.end(), mine);
    MPI_CHECK(MPI_Allgather(mine, kText, MPI_CHAR, all.data(), kText, MPI_CHAR, comm.get()));
    std::set<std::string> seen;
    for (int s = 0; s < n; ++s) seen.insert(std::string(all.data() + kText * s));
    distinct = static_cast<int>(seen.size()) == n;
  }
  TcpTransportOptions o;
  for (int s = 0; s < n; ++s) {
    const std::string at(all.data() + kText * s);
    o.leaders.push_back({sites[s], at, at});
  }
  o.self = comm.rank();
  o.manifest = &manifest;
  o.secret = &key;
  o.connect_timeout_s = timeout_s;
  o.peer_timeout_s = timeout_s;
  transport = connect_tcp_transport(o);
}

}  // namespace fedtrain
