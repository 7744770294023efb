// ferry-chaos's control interface (--control HOST:PORT): a line protocol, one command per line,
// one reply line each, so a test or a person with `nc` can change faults while traffic flows:
//
//   set KEY VALUE   any setting of a scenario's "set" (down_drop 0.05, up_blackhole_after_bytes 0)
//   cut             reset every open connection          refuse MS   refuse new ones for MS
//   clear           all faults off                       stats       the summary JSON, one line
//
// Replies: `ok`, `ok <json>` for stats, or `error <why>`.
#pragma once

#include <uv.h>

#include <set>
#include <string>

namespace ferry::chaos {

class Proxy;

class ControlServer {
 public:
  ControlServer(uv_loop_t* loop, Proxy& proxy) : loop_(loop), proxy_(proxy) {}
  bool listen(const std::string& host, int port, std::string& bound, std::string& err);
  void close();
  // Runs one command line; returns the reply (without newline).
  std::string execute(const std::string& line);
  // Open control connections (their uv_tcp_t), closed by close().
  std::set<uv_tcp_t*> clients;

 private:
  static void on_connection(uv_stream_t* server, int status);
  uv_loop_t* loop_;
  Proxy& proxy_;
  uv_tcp_t listener_{};
  bool listening_ = false;
};

}  // namespace ferry::chaos
