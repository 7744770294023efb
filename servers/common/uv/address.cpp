// HOST:PORT parsing and printing (see address.h).
#include "servers/common/uv/address.h"

#include <cstdlib>
#include <cstring>

namespace ferry::server {

bool parse_address(const std::string& text, sockaddr_storage& addr, const AddressRules& rules,
                   std::string& err) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    err = std::string(rules.what) + " must be HOST:PORT, got '" + text + "'";
    return false;
  }
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  long port = strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    err = "bad port in '" + text + "'";
    return false;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (uv_ip4_addr(host.c_str(), static_cast<int>(port), reinterpret_cast<sockaddr_in*>(&addr)) ==
          0 ||
      uv_ip6_addr(host.c_str(), static_cast<int>(port), reinterpret_cast<sockaddr_in6*>(&addr)) ==
          0) {
    return true;
  }
  if (rules.resolve) {
    // Once, at start-up, before the loop runs (a NULL callback makes it synchronous).
    uv_getaddrinfo_t req;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    if (uv_getaddrinfo(uv_default_loop(), &req, nullptr, host.c_str(), port_text.c_str(), &hints) ==
            0 &&
        req.addrinfo) {
      std::memcpy(&addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
      uv_freeaddrinfo(req.addrinfo);
      return true;
    }
  }
  err = std::string(rules.bad_host) + " '" + text + "'" + rules.bad_host_tail;
  return false;
}

std::string describe_address(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a6, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a6->sin6_port));
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(a4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a4->sin_port));
}

}  // namespace ferry::server
