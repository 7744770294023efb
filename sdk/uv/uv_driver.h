// UvDriver: runs a ClientCore (and its UploadManager) on a libuv loop. Glue only: every
// decision is a core's. Both connections are UvLinks; file work is UploadIo's.
//
// Checklist
//   [x] chat connection: resolve + TCP connect, one at a time, via UvLink
//   [x] reads fed to the core as they arrive; writes coalesced (one uv_write per core step)
//   [x] one timer, re-armed from core.poll_timeout() after every step (it covers uploads)
//   [x] cross-thread wake-up: an eventfd (uv_poll) for commands, uv_async for stop
//   [x] resource-server connection, probing, hashing and chunk reads (UploadIo)
//   [x] graceful stop: pending commands run, queued bytes flushed (bounded wait), then close
//   [ ] TLS (issue: transport security is not in the foundation issue)
//   [x] libcurl downloads: DownloadIo (curl multi on this loop, verification on workers)
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sdk/core/client_core.h"
#include "sdk/uv/download_io.h"
#include "sdk/uv/upload_io.h"
#include "sdk/uv/uv_link.h"

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
  // Any thread: the command queue went from empty to non-empty. One eventfd write wakes the
  // loop, which then takes every queued command; callers skip it while the queue already
  // holds commands (the wake for the first one is still pending), so a burst costs one wake.
  void wake();
  // Any thread: finish pending commands, flush, close everything; run() then returns.
  void request_stop();
  // Upload counters (any thread; null before init()).
  const UploadIoStats* upload_stats() const { return io_ ? &io_->stats() : nullptr; }

 private:
  static void async_callback(uv_async_t* h);
  static void wake_callback(uv_poll_t* h, int status, int events);
  static void timer_callback(uv_timer_t* h);
  static void stop_guard_callback(uv_timer_t* h);

  uint64_t now();
  void step();
  void start_connect();
  void flush();
  void close_chat();
  void begin_stop();
  void finish_stop();

  ClientCore& core_;
  std::string host_;
  std::string port_;
  DriverHooks hooks_;
  uv_loop_t loop_{};
  uv_async_t async_{};  // stop requests only
  // Command wake-ups: an eventfd watched by uv_poll rather than uv_async, whose receiving
  // side spins (then sched_yield()s) while a sender is between its write and its flag update;
  // with many clients on few cores that spin cost a context switch per command.
  int wake_fd_ = -1;
  uv_poll_t wake_poll_{};
  uv_timer_t timer_{};
  uv_timer_t stop_guard_{};
  bool initialized_ = false;
  bool stopping_ = false;
  bool in_step_ = false;  // a callback during step() defers to the loop in progress
  bool step_again_ = false;
  std::atomic<bool> stop_requested_{false};
  UvLink* chat_ = nullptr;  // the connection the core is using, if any
  std::unique_ptr<UploadIo> io_;
  std::unique_ptr<DownloadIo> downloads_;
};

}  // namespace ferry::sdk
