// HOST:PORT and ADDR:PORT strings of leader addresses ("10.0.0.2:29500", "de.example.org:29500", "[::1]:29500").
#pragma once

#include <cstdint>
#include <string>

namespace fedtrain::net {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  uint16_t port = 0;
};

// Throws ConfigError naming `what` (e.g. "[site.de] leader") unless `text` is HOST:PORT with a port 1-65535.
HostPort parse_host_port(const std::string& text, const std::string& what);

}  // namespace fedtrain::net
