// The libuv side of ferry-chaos: accepts clients, connects each to the upstream server, feeds
// every read to the connection's ConnCore and carries out its answers (timed writes, RST,
// silence). All decisions are in harness/chaos/core/; this file only does I/O and timers.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "harness/chaos/core/proxy_core.h"

namespace ferry::chaos {

struct Conn;

// Monotonic microseconds: the "now" handed to the cores.
uint64_t now_us();

class Proxy {
 public:
  using Logger = std::function<void(const std::string&)>;
  Proxy(uv_loop_t* loop, ProxyConfig cfg, Logger log);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Binds and listens; on success `bound` is the HOST:PORT actually bound.
  bool listen(const std::string& host, int port, std::string& bound, std::string& err);
  bool set_upstream(const std::string& host, int port, std::string& err);
  // Carries out what a schedule step or control command asked for.
  void apply(ProxyActions& act);
  void cut_all();
  // Resets every connection and closes every handle, so uv_run returns.
  void close();

  ProxyCore& core() { return core_; }
  uv_loop_t* loop() { return loop_; }
  void log(const std::string& line) { log_(line); }

 private:
  friend struct Conn;
  friend void start_conn(Proxy*, std::unique_ptr<ConnCore>, uv_stream_t*);
  static void on_connection(uv_stream_t* server, int status);
  static void on_schedule_timer(uv_timer_t* t);
  void arm_schedule();

  uv_loop_t* loop_;
  ProxyCore core_;
  Logger log_;
  uv_tcp_t listener_;
  uv_timer_t schedule_timer_;
  sockaddr_storage upstream_{};
  std::set<Conn*> conns_;
  bool closed_ = false;
};

}  // namespace ferry::chaos
