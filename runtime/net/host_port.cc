// HOST:PORT strings of leader addresses.
#include "runtime/net/host_port.h"

#include "runtime/core/error.h"

namespace fedtrain::net {

HostPort parse_host_port(const std::string& text, const std::string& what) {
  auto bad = [&](const std::string& why) {
    return ConfigError(what + " = '" + text + "': " + why + "; write HOST:PORT, e.g. 10.0.0.2:29500 or [::1]:29500");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("no HOST:PORT");
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.front() == '[') {
    if (hp.host.size() < 3 || hp.host.back() != ']') throw bad("an IPv6 address needs both brackets");
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  } else if (hp.host.find(':') != std::string::npos) {
    throw bad("an IPv6 address must be in brackets");
  }
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    throw bad("the port is not a number");
  const unsigned long value = std::stoul(port);
  if (value < 1 || value > 65535) throw bad("the port is not in 1-65535");
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

}  // namespace fedtrain::net
