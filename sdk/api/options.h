// The struct behind ferry_options_t (opaque in ferry.h) and the host:port parser.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sdk/include/ferry.h"

namespace ferry::sdk {
class UvLoop;
}

struct ferry_options {
  std::string host = "127.0.0.1";
  std::string port = "7420";
  bool has_state_dir = false;
  std::string state_dir;
  uint32_t reconnect_min_ms = 200;
  uint32_t reconnect_max_ms = 10000;
  uint32_t heartbeat_ms = 10000;
  bool receive = true;
  uint32_t upload_connections = 16;  // ferry_options_set_upload_connections
  // ferry_options_set_loop(): a loop shared with other clients; null = the client's own.
  std::shared_ptr<ferry::sdk::UvLoop> loop;
};

namespace ferry::sdk {

// "HOST:PORT", "[v6]:PORT"; port 1-65535. False when malformed.
bool parse_host_port(const char* s, std::string& host, std::string& port);

}  // namespace ferry::sdk
