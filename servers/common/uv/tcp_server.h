// The TCP side both servers' adapters share: listen, accept, per-connection writes (the core
// already coalesces a loop iteration's output into one string per connection, so each is one
// uv_write), and graceful close: final bytes written, FIN sent, then linger up to
// kLingerMs for the peer's EOF (closing with unread input would send RST and could discard
// the final ERROR frame). It holds no protocol logic: the adapter fills one small hook table.
//
// Implemented:
//   [x] IPv4 and IPv6 listen, port 0 = ephemeral, the bound address reported back
//   [x] TCP_NODELAY on every connection (small frames; writes are coalesced anyway)
//   [x] reads through one shared buffer, or where the alloc hook points (zero-copy)
//   [x] read stop/start per connection (back-pressure), reading resumed while lingering
//   [x] linger deadline for closing connections, one 250 ms timer for all of them
//   [ ] TLS
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "servers/common/uv/signals.h"

namespace ferry::server {

// How long a closing connection may take to read its last bytes (a fatal ERROR) before it is
// cut hard. Also bounds how long a stuck slow consumer holds its queued memory.
inline constexpr int64_t kLingerMs = 2000;
inline constexpr size_t kReadBufferBytes = 256 * 1024;

struct TcpServer;

// One accepted connection. Owned by its TcpServer; freed after its close callback.
struct TcpConn {
  uv_tcp_t tcp;  // first member: the handle pointer is the TcpConn pointer
  TcpServer* server = nullptr;
  uint64_t id = 0;
  size_t writes_pending = 0;
  bool reading = false;
  bool close_requested = false;  // the core asked to close after the pending output
  bool shut_down = false;        // FIN sent
  bool closed = false;           // uv_close called
  int64_t linger_deadline_ms = 0;
};

// The adapter's side. Every hook gets `user` first; all run on the loop thread.
struct TcpHooks {
  void* user = nullptr;
  // Accepted and registered under c.id: tell the core (reading starts right after).
  void (*on_open)(void* user, TcpConn& c) = nullptr;
  // Where the next read goes; null = the server's shared read_buffer.
  void (*on_alloc)(void* user, TcpConn& c, uv_buf_t* buf) = nullptr;
  // nread > 0 bytes arrived in `buf` (EOF and errors close the connection instead).
  void (*on_read)(void* user, TcpConn& c, const uv_buf_t* buf, size_t nread) = nullptr;
  // The handle is closed and forgotten (no longer in `conns`): tell the core.
  void (*on_closed)(void* user, uint64_t id) = nullptr;
};

// Pinned after tcp_server_listen.
struct TcpServer {
  const char* name = "";  // log prefix, "ferry-chatd"
  TcpHooks hooks;
  const LoopClock* clock = nullptr;
  uv_loop_t* loop = nullptr;
  uv_tcp_t listener;
  uv_timer_t linger_timer;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, TcpConn*> conns;
  std::unordered_set<TcpConn*> lingering;
  char read_buffer[kReadBufferBytes];
};

// Binds and listens on `addr`. On failure logs "<name>: cannot listen on <listen_text>: ..."
// to stderr, closes what it opened and returns false; the caller then returns exit status 1.
// On success fills `bound` with the real address (port 0 resolved).
bool tcp_server_listen(TcpServer& t, uv_loop_t* loop, const sockaddr_storage& addr,
                       const std::string& listen_text, sockaddr_storage& bound);

// Prints "listening on HOST:PORT" to stdout (flushed: tests and scripts wait for it) and the
// same line to stderr with the server's prefix.
void print_listening(const char* name, const std::string& address);

// Queues `bytes` on connection `id`. Returns the connection, or null if it is gone, closing,
// or the write failed (then it is closed).
TcpConn* tcp_server_write(TcpServer& t, uint64_t id, std::string&& bytes);

// The core asked to close `id` once its output is written.
void tcp_server_request_close(TcpServer& t, uint64_t id);

// Turns reading on or off (back-pressure); a no-op when already so.
void tcp_conn_set_reading(TcpConn& c, bool on);

// Stops accepting (shutdown); connections stay until they close.
void tcp_server_close_listener(TcpServer& t);

// Closes the linger timer; the last step of a shutdown, once `conns` is empty.
void tcp_server_close_timers(TcpServer& t);

}  // namespace ferry::server
