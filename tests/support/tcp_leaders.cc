// Test helper: N site leaders on 127.0.0.1 connected by the TCP leader transport.
#include "tests/support/tcp_leaders.h"

#include <boost/asio.hpp>
#include <exception>
#include <mutex>
#include <thread>

namespace fedtrain::testing {

std::vector<int> free_tcp_ports(int count) {
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::acceptor> held;
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    held.emplace_back(io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    ports.push_back(held.back().local_endpoint().port());
  }
  return ports;
}

void run_threads(int n, const std::function<void(int)>& f) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::exception_ptr first;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

namespace {
std::vector<SecretKey> fresh_keys(int n) {
  std::vector<SecretKey> keys;
  for (int i = 0; i < n; ++i) keys.push_back(SecretKey::generate());
  return keys;
}
Manifest manifest_of(const std::vector<SecretKey>& keys) {
  std::vector<ManifestEntry> entries;
  for (size_t i = 0; i < keys.size(); ++i) entries.push_back({"s" + std::to_string(i), keys[i].public_key()});
  return Manifest(entries);
}
}  // namespace

TcpLeaders::TcpLeaders(int n) : keys(fresh_keys(n)), manifest(manifest_of(keys)) {
  const std::vector<int> ports = free_tcp_ports(n);
  for (int i = 0; i < n; ++i) {
    sites.push_back("s" + std::to_string(i));
    endpoints.push_back({sites[i], "127.0.0.1:" + std::to_string(ports[i]), "127.0.0.1:" + std::to_string(ports[i])});
  }
}

TcpTransportOptions TcpLeaders::options(int self) const {
  TcpTransportOptions o;
  o.leaders = endpoints;
  o.self = self;
  o.manifest = &manifest;
  o.secret = &keys[self];
  o.peer_timeout_s = peer_timeout_s;
  o.connect_timeout_s = connect_timeout_s;
  return o;
}

std::vector<std::unique_ptr<TcpTransport>> TcpLeaders::connect_all() const {
  const int n = static_cast<int>(sites.size());
  std::vector<std::unique_ptr<TcpTransport>> out(n);
  run_threads(n, [&](int i) { out[i] = connect_tcp_transport(options(i)); });
  return out;
}

}  // namespace fedtrain::testing
