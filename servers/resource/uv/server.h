// The libuv adapter for ResdCore: moves bytes between TCP sockets and the core, runs the
// core's jobs on the file workers and feeds their results back (LoopWake), keeps the chat
// link's TCP connection, drives the core's timer, and handles SIGTERM/SIGINT. It holds no
// upload logic.
//
// Implemented:
//   [x] TCP listen on IPv4 or IPv6 ("[::1]:0"), port 0 = ephemeral; prints the real address
//   [x] zero-copy reads: a CHUNK body's missing part is read straight into its own buffer
//       (core.read_window); small frames and headers go through one shared read buffer
//   [x] back-pressure: uv_read_stop while a connection's chunks queued at the workers exceed
//       the bound (checked inside read_cb too, so one callback cannot overshoot by much)
//   [x] output coalesced: one uv_write per connection per loop iteration
//   [x] file workers (workers.h) with results delivered by a LoopWake (an eventfd)
//   [x] chat link: connect, reconnect with the core's backoff, one write per iteration
//   [x] graceful close: final bytes written, FIN, linger up to 2 s for the peer's EOF
//   [x] SIGTERM/SIGINT: ERROR shutting_down to all, close link, workers finish their
//       current job, return 0
//   [ ] TLS (terminate in front for now)
//   [ ] DNS re-resolution of --chat (resolved once at start)
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "servers/resource/core/resd_core.h"
#include "servers/resource/store/file_store.h"

namespace ferry::resource {

struct ServerOptions {
  std::string listen = "127.0.0.1:7421";
  std::string chat;       // empty = no link
  std::string advertise;  // empty = the bound listen address
  int workers = 2;
  // The HTTP download listener's hooks (http/uv/http_server.h), so it shares this loop:
  // after_listening runs right after "listening on" is printed, on_stop at SIGTERM/SIGINT.
  std::function<void()> after_listening;
  std::function<void()> on_stop;
};

// Runs the server until SIGTERM/SIGINT. Prints "listening on HOST:PORT" to stdout once bound.
// Returns the process exit status (0 after a clean shutdown, 1 if it cannot listen, 2 for a
// bad address).
int run_server(ResdCore& core, FileStore& store, const ServerOptions& options);

}  // namespace ferry::resource
