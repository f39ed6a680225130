// Test helper: N site leaders on 127.0.0.1 with fresh key pairs, connected by the TCP leader transport.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/crypto/manifest.h"
#include "runtime/net/tcp_transport.h"

namespace fedtrain::testing {

// `count` TCP ports on 127.0.0.1 that were free a moment ago (bound to port 0 at once, then released).
std::vector<int> free_tcp_ports(int count);

// Runs f(i) for i in [0, n) on n threads; rethrows the first exception after all joined.
void run_threads(int n, const std::function<void(int)>& f);

struct TcpLeaders {
  explicit TcpLeaders(int n);
  std::vector<std::string> sites;  // "s0", "s1", ...
  std::vector<SecretKey> keys;
  Manifest manifest;
  std::vector<LeaderEndpoint> endpoints;  // 127.0.0.1:free port
  double peer_timeout_s = 30, connect_timeout_s = 30;
  TcpTransportOptions options(int self) const;
  // Every leader connected at once (threads).
  std::vector<std::unique_ptr<TcpTransport>> connect_all() const;
};

}  // namespace fedtrain::testing
