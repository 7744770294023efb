// UvDriver: runs a ClientCore on a libuv loop. Glue only: every decision is the core's.
//
// Checklist
//   [x] getaddrinfo + TCP connect (TCP_NODELAY), one connection at a time
//   [x] reads fed to the core as they arrive; writes coalesced (one uv_write per core step)
//   [x] one timer, re-armed from core.poll_timeout() after every step
//   [x] uv_async wake-up for commands from app threads, and for stop
//   [x] graceful stop: pending commands run, queued bytes flushed (bounded wait), then close
//   [ ] TLS (issue: transport security is not in the foundation issue)
//   [ ] resource-server connections and libcurl downloads (media issues)
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "sdk/core/client_core.h"

namespace ferry::sdk {

struct DriverHooks {
  // Moves the app's queued commands into the core (called on the loop thread).
  std::function<void(uint64_t now_ms)> run_commands;
  // Moves the core's events to the app (called on the loop thread after every step).
  std::function<void()> publish_events;
};

class UvDriver {
 public:
  UvDriver(ClientCore& core, std::string host, std::string port, DriverHooks hooks);
  ~UvDriver();
  UvDriver(const UvDriver&) = delete;
  UvDriver& operator=(const UvDriver&) = delete;

  // Sets up the loop and its handles; call before run(), on any one thread. 0 or a uv error.
  int init();
  // The loop thread's body: starts the core and runs until request_stop() took effect.
  void run();
  // Any thread: the command queue has something (coalesced: many wakes, one callback).
  void wake();
  // Any thread: finish pending commands, flush, close everything; run() then returns.
  void request_stop();

 private:
  struct Conn;
  static void async_callback(uv_async_t* h);
  static void timer_callback(uv_timer_t* h);
  static void stop_guard_callback(uv_timer_t* h);
  static void resolve_callback(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void connect_callback(uv_connect_t* req, int status);
  static void alloc_callback(uv_handle_t* h, size_t hint, uv_buf_t* buf);
  static void read_callback(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void write_callback(uv_write_t* req, int status);
  static void shutdown_callback(uv_shutdown_t* req, int status);
  static void conn_close_callback(uv_handle_t* h);

  uint64_t now();
  void step();
  void start_connect();
  void flush();
  void close_conn(Conn* c);
  void connection_lost(Conn* c, int uv_status);
  void begin_stop();

  ClientCore& core_;
  std::string host_;
  std::string port_;
  DriverHooks hooks_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t timer_{};
  uv_timer_t stop_guard_{};
  bool initialized_ = false;
  bool stopping_ = false;
  std::atomic<bool> stop_requested_{false};
  Conn* conn_ = nullptr;  // the connection the core is using, if any
  char read_buf_[64 * 1024];
};

}  // namespace ferry::sdk
