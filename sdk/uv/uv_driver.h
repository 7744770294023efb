// UvDriver: runs a ClientCore (and its UploadManager) on a libuv loop, the client's own or
// one shared with other clients (UvLoop). Glue only: every decision is a core's. Both
// connections are UvLinks; file work is UploadIo's.
//
// Checklist
//   [x] chat connection: resolve + TCP connect, one at a time, via UvLink
//   [x] reads fed to the core as they arrive; writes coalesced (one uv_write per core step)
//   [x] one timer, re-armed from core.poll_timeout() after every step (it covers uploads)
//   [x] cross-thread wake-up through the UvLoop (one eventfd per loop, batches of clients)
//   [x] events published once per loop iteration (UvLoop's check phase)
//   [x] resource-server connection, probing, hashing and chunk reads (UploadIo)
//   [x] graceful stop: pending commands run, queued bytes flushed (bounded wait), then close;
//       the loop (and the other clients on it) carries on
//   [ ] TLS (issue: transport security is not in the foundation issue)
//   [x] libcurl downloads: DownloadIo (curl multi on this loop, verification on workers)
#pragma once

#include <uv.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "sdk/core/client_core.h"
#include "sdk/uv/download_io.h"
#include "sdk/uv/upload_io.h"
#include "sdk/uv/uv_link.h"
#include "sdk/uv/uv_loop.h"

namespace ferry::sdk {

struct DriverHooks {
  // Moves the app's queued commands into the core (called on the loop thread).
  std::function<void(uint64_t now_ms)> run_commands;
  // Moves the core's events to the app (called on the loop thread after every step).
  std::function<void()> publish_events;
};

class UvDriver final : public LoopClient {
 public:
  UvDriver(std::shared_ptr<UvLoop> loop, ClientCore& core, std::string host, std::string port,
           DriverHooks hooks);
  ~UvDriver() override;  // stop()s if needed
  UvDriver(const UvDriver&) = delete;
  UvDriver& operator=(const UvDriver&) = delete;

  // App thread: sets up the handles on the loop thread, starts the core and its first step,
  // and waits for that. 0, or FERRY_ENOMEM.
  int start();
  // Any thread: the command queue went from empty to non-empty. One loop wake takes every
  // queued command; callers skip it while the queue already holds commands (the wake for the
  // first one is still pending), so a burst costs at most one wake.
  void wake() { loop_->wake(this); }
  // App thread: finish pending commands, flush (bounded wait), close this client's handles and
  // wait until they are closed. The loop and its other clients carry on. Idempotent.
  void stop();
  // Upload counters (any thread; null before start() and after stop()).
  const UploadIoStats* upload_stats() const { return io_ ? &io_->stats() : nullptr; }

  // LoopClient (loop thread).
  void on_commands() override;
  void publish() override;

 private:
  static void timer_callback(uv_timer_t* h);
  static void stop_guard_callback(uv_timer_t* h);
  static void close_callback(uv_handle_t* h);

  uint64_t now();
  void init_on_loop();
  void step();
  void start_connect();
  void flush();
  void close_chat();
  void begin_stop();
  void finish_stop();
  void handle_closed();

  std::shared_ptr<UvLoop> loop_;
  uv_loop_t* uv_;
  ClientCore& core_;
  std::string host_;
  std::string port_;
  DriverHooks hooks_;
  uv_timer_t timer_{};
  uv_timer_t stop_guard_{};
  bool started_ = false;   // app thread: start() succeeded
  bool stopped_ = false;   // app thread: stop() returned
  bool stopping_ = false;  // loop thread
  int open_handles_ = 0;   // loop thread: timer_ and stop_guard_ until their close callbacks
  bool in_step_ = false;   // a callback during step() defers to the loop in progress
  bool step_again_ = false;
  // Set (under closed_mu_, notified before unlocking, so the waiter cannot free it early)
  // when the last handle of this driver is closed.
  std::mutex closed_mu_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
  UvLink* chat_ = nullptr;  // the connection the core is using, if any
  std::string send_buf_;    // flush(): swapped with the core's output buffer, capacity kept
  // Shared with the loop's retire list: a stopped client's file work may still call back.
  std::shared_ptr<UploadIo> io_;
  std::shared_ptr<DownloadIo> downloads_;
};

}  // namespace ferry::sdk
