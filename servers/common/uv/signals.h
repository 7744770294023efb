// Process-level plumbing both servers' adapters share: the core's clock (monotonic uv_now
// anchored once to the wall clock), SIGTERM/SIGINT as a one-shot "stop" hook, and the final
// uv_run / uv_loop_close with the servers' log lines.
#pragma once

#include <uv.h>

#include <cstdint>

namespace ferry::server {

// Milliseconds since the epoch from the system clock.
int64_t wall_clock_ms();

// The time every core call is given: monotonic (uv_now) but anchored to the epoch once, so
// timestamps are wall-clock times that never go backwards and timeouts ignore clock steps.
struct LoopClock {
  uv_loop_t* loop = nullptr;
  int64_t epoch_base_ms = 0;

  // Call once, before the loop runs.
  void anchor(uv_loop_t* l) {
    loop = l;
    uv_update_time(loop);
    epoch_base_ms = wall_clock_ms() - static_cast<int64_t>(uv_now(loop));
  }
  int64_t now() const { return epoch_base_ms + static_cast<int64_t>(uv_now(loop)); }
};

// Arms `timer` (one-shot, calling `cb`) for a core's poll_timeout() answer, or stops it when
// the core has no deadline (INT64_MAX, the cores' kNoTimeout). A deadline already past fires
// on the next loop iteration.
void arm_core_timer(uv_timer_t& timer, int64_t deadline_ms, int64_t now_ms, uv_timer_cb cb);

// SIGTERM and SIGINT on one loop. The first of either logs "<name>: signal N, shutting down",
// closes both handles (they must not keep the loop alive) and calls on_stop(user) once.
// Pinned after signals_start.
struct Signals {
  uv_signal_t sigterm;
  uv_signal_t sigint;
  const char* name = "";
  void (*on_stop)(void* user) = nullptr;
  void* user = nullptr;
  bool fired = false;
};

void signals_start(Signals& s, uv_loop_t* loop, const char* name, void (*on_stop)(void* user),
                   void* user);

// Runs the loop until no handle is left, closes it, logs "<name>: stopped". Returns 0.
int run_loop(uv_loop_t* loop, const char* name);

}  // namespace ferry::server
