// Signals, the loop clock and the loop's end (see signals.h).
#include "servers/common/uv/signals.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace ferry::server {

int64_t wall_clock_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void arm_core_timer(uv_timer_t& timer, int64_t deadline_ms, int64_t now_ms, uv_timer_cb cb) {
  if (deadline_ms == INT64_MAX) {
    uv_timer_stop(&timer);
    return;
  }
  uint64_t delay = deadline_ms > now_ms ? static_cast<uint64_t>(deadline_ms - now_ms) : 0;
  uv_timer_start(&timer, cb, delay, 0);
}

namespace {

void on_signal(uv_signal_t* sig, int signum) {
  Signals& s = *static_cast<Signals*>(sig->data);
  if (s.fired) return;
  s.fired = true;
  fprintf(stderr, "%s: signal %d, shutting down\n", s.name, signum);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigint), nullptr);
  s.on_stop(s.user);
}

}  // namespace

void signals_start(Signals& s, uv_loop_t* loop, const char* name, void (*on_stop)(void* user),
                   void* user) {
  s.name = name;
  s.on_stop = on_stop;
  s.user = user;
  uv_signal_init(loop, &s.sigterm);
  s.sigterm.data = &s;
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &s.sigint);
  s.sigint.data = &s;
  uv_signal_start(&s.sigint, on_signal, SIGINT);
}

int run_loop(uv_loop_t* loop, const char* name) {
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  if (rc != 0) fprintf(stderr, "%s: loop closed with live handles: %s\n", name, uv_strerror(rc));
  fprintf(stderr, "%s: stopped\n", name);
  return 0;
}

}  // namespace ferry::server
