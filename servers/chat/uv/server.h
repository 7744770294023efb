// The libuv adapter for ChatCore: moves bytes between TCP sockets and the core, runs password
// hashing on the libuv thread pool, drives the core's timer, and handles SIGTERM/SIGINT. It
// holds no chat logic.
//
// Implemented:
//   [x] TCP listen on IPv4 or IPv6 ("[::1]:0"), port 0 = ephemeral; prints the real address
//   [x] reads go straight into the core from one shared buffer (no per-read allocation)
//   [x] output coalesced: one uv_write per connection per loop iteration
//   [x] group commit: core.flush() from a uv_check handle, after the iteration's I/O callbacks
//   [x] PBKDF2 jobs on uv_queue_work, results fed back on the loop thread
//   [x] slow consumer: unsent bytes above max_queue_bytes -> core.on_slow_consumer()
//   [x] graceful close: final bytes written, FIN sent, then linger up to kLingerMs for the
//       peer to read them (closing with unread input would send RST and could discard them)
//   [x] SIGTERM/SIGINT: commit, ERROR shutting_down to all, close, return 0
//   [ ] TLS (terminate in front, e.g. stunnel/haproxy, for now)
#pragma once

#include <cstdint>
#include <string>

#include "servers/chat/core/chat_core.h"

namespace ferry::chat {

struct ServerOptions {
  std::string listen = "127.0.0.1:7420";
  uint64_t max_queue_bytes = 8u << 20;
};

// Runs the server until SIGTERM/SIGINT. Prints "listening on HOST:PORT" to stdout once bound.
// Returns the process exit status (0 after a clean shutdown, 1 if it cannot listen).
int run_server(ChatCore& core, const ServerOptions& options);

}  // namespace ferry::chat
