// UvLoop: one libuv loop and the thread that runs it, for one client or shared by many
// (ferry_loop_t). Glue only: it wakes, runs and publishes for the UvDrivers attached to it.
//
// Why share: each client on its own thread sees a message only every few ms when hundreds of
// clients run in one process, so every send, ack and push wakes a sleeping thread. On one
// shared thread the same work arrives in batches: one eventfd write wakes the loop for every
// client that has commands, and events are published at the end of the loop iteration, after
// every client's reads of that iteration, so the app's wake-ups cover many clients too.
//
// Threads: wake(), post() and call() from any thread; everything else on the loop thread.
// Lifetime: owned through shared_ptr by the clients attached to it and by ferry_loop_t; the
// destructor runs on an app thread once every driver has stopped, ends the thread and joins.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry::sdk {

// What a loop needs from a client attached to it (UvDriver). Loop thread only.
class LoopClient {
 public:
  virtual ~LoopClient() = default;
  // The client's command queue became non-empty: take it.
  virtual void on_commands() = 0;
  // Hand the events of this iteration to the app.
  virtual void publish() = 0;
  bool publish_queued = false;  // the loop's: already in its publish list
};

class UvLoop {
 public:
  UvLoop() = default;
  ~UvLoop();
  UvLoop(const UvLoop&) = delete;
  UvLoop& operator=(const UvLoop&) = delete;

  // Creates the loop and starts its thread. 0, or a negative errno / uv error.
  int start();
  uv_loop_t* loop() { return &loop_; }
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Any thread: `c` has commands. Queued in order with post(); the first entry of a batch
  // writes the eventfd, later ones ride along.
  void wake(LoopClient* c);
  // Any thread: run `fn` on the loop thread, in order with wake().
  void post(std::function<void()> fn);
  // Any thread but the loop's: post(fn) and wait until it ran.
  void call(std::function<void()> fn);

  // Loop thread: publish `c` at the end of this iteration (once, however often asked).
  void publish_later(LoopClient* c);
  // Loop thread: forget a pending publish_later(c) (the client is stopping).
  void cancel_publish(LoopClient* c);
  // Loop thread: free `o` once the loop has no request in flight. Work queued on the thread
  // pool by a stopped client (UploadIo, DownloadIo) still calls back into its owner, so the
  // owner outlives every request; other clients' requests only delay the free.
  void retire(std::shared_ptr<void> o);

 private:
  struct Entry {
    LoopClient* client = nullptr;  // wake(), or
    std::function<void()> fn;      // post()
  };
  static void wake_callback(uv_poll_t* h, int status, int events);
  static void check_callback(uv_check_t* h);
  void enqueue(Entry e);
  void run();

  uv_loop_t loop_{};
  int wake_fd_ = -1;
  uv_poll_t wake_poll_{};
  uv_check_t check_{};
  std::thread thread_;
  bool quit_ = false;  // loop thread: handles closed, uv_run is ending
  std::mutex mu_;
  std::vector<Entry> entries_;  // under mu_
  std::vector<Entry> batch_;    // loop thread: entries being run
  std::vector<LoopClient*> publish_;
  std::vector<LoopClient*> publishing_;
  std::vector<std::shared_ptr<void>> retired_;
};

}  // namespace ferry::sdk
