// ferry_options_*: plain setters with validation. No exception crosses the API.
#include "sdk/api/options.h"

#include <cstdlib>
#include <new>

namespace ferry::sdk {

bool parse_host_port(const char* s, std::string& host, std::string& port) {
  std::string in(s);
  size_t colon = in.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == in.size()) return false;
  std::string h = in.substr(0, colon);
  std::string p = in.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    return false;  // a bare IPv6 address needs brackets
  }
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  long n = std::strtol(p.c_str(), nullptr, 10);
  if (n < 1 || n > 65535) return false;
  host = std::move(h);
  port = std::to_string(n);
  return true;
}

}  // namespace ferry::sdk

extern "C" {

ferry_options_t* ferry_options_new(void) { return new (std::nothrow) ferry_options(); }

void ferry_options_destroy(ferry_options_t* opts) { delete opts; }

int ferry_options_set_server(ferry_options_t* opts, const char* host_port) {
  if (!opts || !host_port) return FERRY_EINVAL;
  try {
    std::string host, port;
    if (!ferry::sdk::parse_host_port(host_port, host, port)) return FERRY_EINVAL;
    opts->host = std::move(host);
    opts->port = std::move(port);
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_options_set_state_dir(ferry_options_t* opts, const char* dir) {
  if (!opts) return FERRY_EINVAL;
  try {
    opts->has_state_dir = dir != nullptr;
    opts->state_dir = dir ? dir : "";
    if (opts->has_state_dir && opts->state_dir.empty()) {
      opts->has_state_dir = false;
      return FERRY_EINVAL;
    }
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_options_set_reconnect(ferry_options_t* opts, uint32_t min_ms, uint32_t max_ms) {
  if (!opts || min_ms == 0 || max_ms == 0 || min_ms > max_ms) return FERRY_EINVAL;
  opts->reconnect_min_ms = min_ms;
  opts->reconnect_max_ms = max_ms;
  return FERRY_OK;
}

int ferry_options_set_heartbeat(ferry_options_t* opts, uint32_t interval_ms) {
  if (!opts || interval_ms < 100) return FERRY_EINVAL;
  opts->heartbeat_ms = interval_ms;
  return FERRY_OK;
}

int ferry_options_set_receive(ferry_options_t* opts, int enabled) {
  if (!opts) return FERRY_EINVAL;
  opts->receive = enabled != 0;
  return FERRY_OK;
}

int ferry_options_set_upload_connections(ferry_options_t* opts, uint32_t max) {
  if (!opts || max == 0 || max > 16) return FERRY_EINVAL;
  opts->upload_connections = max;
  return FERRY_OK;
}

}  // extern "C"
