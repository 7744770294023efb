// LoopWake: other threads wake a libuv loop, which then runs one callback.
//
// Why not uv_async: libuv 1.44 (Debian 12) makes the loop spin, then sched_yield(), while a
// sender is between its eventfd write and its flag update, and a file worker preempted there
// on a 2-core machine held resd's loop up to 24 ms at a time (103 yields, 138 ms per GiB
// uploaded; docs/benchmarks.md, session 14). Here the loop watches a plain eventfd with
// uv_poll, so a sender is one write(2) and the loop never waits for it. The SDK's UvLoop
// does the same for its own queue.
//
// notify() may be called from any thread, any number of times; wake-ups coalesce, so the
// callback must take everything that is waiting (e.g. drain a queue until it is empty).
// close() on the loop thread, once no other thread will call notify() any more; destroy the
// LoopWake only after the loop has run close()'s callback (it closes the eventfd).
#pragma once

#include <uv.h>

#include <functional>

namespace ferry::server {

class LoopWake {
 public:
  LoopWake() = default;
  LoopWake(const LoopWake&) = delete;
  LoopWake& operator=(const LoopWake&) = delete;

  int start(uv_loop_t* loop, std::function<void()> on_wake);  // 0 or a negative errno
  void notify();
  void close();

 private:
  static void on_readable(uv_poll_t* h, int status, int events);

  uv_poll_t poll_{};
  int fd_ = -1;
  bool polling_ = false;
  std::function<void()> on_wake_;
};

}  // namespace ferry::server
