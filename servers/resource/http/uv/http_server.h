// The libuv adapter of ferry-resd's HTTP download listener (docs/protocol-download.md §3).
// Sockets, file opening and sending live here; every HTTP decision is the sans-I/O core's
// (http/core/: parser.h frames requests, router.h answers them).
//
// Implemented:
//   [x] HTTP/1.1 keep-alive and pipelining: requests are answered one at a time, in order;
//       at most kMaxQueued parsed requests wait, then the socket is not read (parser.h)
//   [x] file open + fstat with uv_fs_* on libuv's thread pool (never the loop thread, never
//       the upload workers); the path comes only from the verified ticket's hash
//   [x] zero-copy body: sendfile(2) from the file to a dup() of the non-blocking socket, one
//       call per round as a uv_queue_work job on libuv's thread pool (so a cold disk read
//       never stalls the loop). It returns a short count or EAGAIN once the socket's send
//       buffer is full; the adapter then waits for POLLOUT with a uv_poll on the dup'd
//       descriptor (libuv allows no second watcher on the TCP handle's own fd) and runs the
//       next round. A slow reader costs one pending poll and no buffered bytes.
//       Rejected: uv_fs_sendfile. In Debian's libuv 1.44 it first tries copy_file_range(),
//       which fails with EINVAL for a socket, and EINVAL sends it to its read()/write()
//       emulation, whose write loop blocks in poll(-1) until the peer reads: not zero-copy,
//       and four slow readers held all four pool threads, so no other download could even
//       open its file (seen in resd_http_test before the switch).
//   [x] bounded memory per connection: one response head, at most kMaxQueued requests and one
//       read's worth of unparsed input; the read buffer is shared
//   [x] idle timeout (no bytes in or out for idle_timeout_ms) and a 2 s linger after a
//       closing response (FIN, then drain the peer's input) so a 4xx is not lost to an RST
//   [x] shutdown: listener and every connection closed; in-flight pool jobs finish first
//   [ ] TLS (terminate in a proxy; docs/operations.md)
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ferry::resource::http {

struct HttpOptions {
  std::string listen;    // HOST:PORT, numeric; port 0 = ephemeral
  std::string data_dir;  // ferry-resd's data directory (files/ is read)
  std::string key;       // the shared HMAC key (download tickets)
  int64_t idle_timeout_ms = 60000;
};

class HttpServer;
void http_server_delete(HttpServer* server);
struct HttpServerDeleter {
  void operator()(HttpServer* s) const { http_server_delete(s); }
};
using HttpServerPtr = std::unique_ptr<HttpServer, HttpServerDeleter>;

// Binds the listening socket on `loop` (before the loop runs, so the real address is known
// for peer_auth). On failure returns null with `err` set and `exit_status` 2 (bad address)
// or 1 (cannot bind). On success `bound` is "HOST:PORT" with the real port.
HttpServerPtr http_server_bind(uv_loop_t* loop, const HttpOptions& options, std::string& bound,
                               std::string& err, int& exit_status);
// Starts accepting and prints "http listening on HOST:PORT" to stdout (flushed) and stderr.
bool http_server_start(HttpServer& server);
// Closes the listener and every connection (SIGTERM). Handles close asynchronously; the
// object must outlive the loop run.
void http_server_stop(HttpServer& server);

}  // namespace ferry::resource::http
