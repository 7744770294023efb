// libuv adapter for ChatCore (see server.h for the feature checklist). Listening, accepting,
// writing, graceful close and signals are servers/common/uv; this file fills their hooks and
// adds what only chat has: group commit from a check handle, PBKDF2 jobs on the thread pool,
// and the slow-consumer bound.
#include "servers/chat/uv/server.h"

#include <uv.h>

#include <cstdio>
#include <memory>

#include "servers/chat/core/password.h"
#include "servers/common/uv/address.h"
#include "servers/common/uv/signals.h"
#include "servers/common/uv/tcp_server.h"

namespace ferry::chat {

namespace {

constexpr const char* kName = "ferry-chatd";

struct Server;

struct HashWork {
  uv_work_t req;
  Server* server;
  HashJob job;
  std::string result;
};

struct Server {
  ChatCore* core = nullptr;
  ServerOptions options;
  uv_loop_t* loop = nullptr;
  server::LoopClock clock;
  server::TcpServer tcp;
  server::Signals signals;
  uv_check_t check;
  uv_timer_t core_timer;
  size_t hash_jobs = 0;
  bool stopping = false;
  bool loop_handles_closed = false;

  int64_t now() const { return clock.now(); }
};

void pump(Server& s);

void write_to(Server& s, ConnId id, std::string&& bytes) {
  server::TcpConn* c = server::tcp_server_write(s.tcp, id, std::move(bytes));
  if (!c) return;
  // uv_write already tried to write synchronously; what remains is what the peer has not taken.
  if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp)) >
      s.options.max_queue_bytes) {
    s.core->on_slow_consumer(id);
  }
}

void on_open(void* user, server::TcpConn& c) {
  Server& s = *static_cast<Server*>(user);
  s.core->on_open(c.id, s.now());
}

void on_read(void* user, server::TcpConn& c, const uv_buf_t* buf, size_t nread) {
  Server& s = *static_cast<Server*>(user);
  s.core->on_bytes(c.id, buf->base, nread, s.now());
}

void on_closed(void* user, uint64_t id) {
  Server& s = *static_cast<Server*>(user);
  s.core->on_close(id);
  if (s.stopping) pump(s);  // the last client gone lets the loop end
}

void hash_work(uv_work_t* req) {
  auto* w = static_cast<HashWork*>(req->data);
  w->result = pbkdf2_sha256(w->job.password, w->job.salt, w->job.iterations);
}

void hash_after(uv_work_t* req, int) {
  auto* w = static_cast<HashWork*>(req->data);
  Server& s = *w->server;
  s.hash_jobs--;
  s.core->on_hash_done(w->job.id, w->result, s.now());
  delete w;
  pump(s);  // a hash finishing during shutdown must still be answered and closed
}

void close_loop_handles(Server& s) {
  if (s.loop_handles_closed) return;
  s.loop_handles_closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&s.check), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.core_timer), nullptr);
  server::tcp_server_close_timers(s.tcp);
}

// Runs the core's deferred work and drains its outputs. Called from the check phase (after
// each iteration's I/O) and after timers, so nothing waits for the next poll.
void pump(Server& s) {
  if (s.loop_handles_closed) return;
  int64_t now = s.now();
  s.core->flush(now);
  if (now >= s.core->poll_timeout()) s.core->handle_timeout(now);
  HashJob job;
  while (s.core->poll_hash_job(job)) {
    auto* w = new HashWork{};
    w->req.data = w;
    w->server = &s;
    w->job = std::move(job);
    s.hash_jobs++;
    uv_queue_work(s.loop, &w->req, hash_work, hash_after);
  }
  ConnId id;
  std::string bytes;
  while (s.core->poll_send(id, bytes)) write_to(s, id, std::move(bytes));
  while (s.core->poll_close(id)) server::tcp_server_request_close(s.tcp, id);
  if (s.stopping && s.tcp.conns.empty() && s.hash_jobs == 0) return close_loop_handles(s);
  static_assert(kNoTimeout == INT64_MAX, "arm_core_timer stops the timer at INT64_MAX");
  server::arm_core_timer(s.core_timer, s.core->poll_timeout(), now,
                         [](uv_timer_t* t) { pump(*static_cast<Server*>(t->data)); });
}

void on_stop(void* user) {
  Server& s = *static_cast<Server*>(user);
  s.stopping = true;
  server::tcp_server_close_listener(s.tcp);
  s.core->shutdown(s.now());
  pump(s);
}

}  // namespace

int run_server(ChatCore& core, const ServerOptions& options) {
  auto s = std::make_unique<Server>();
  s->core = &core;
  s->options = options;
  s->loop = uv_default_loop();
  s->clock.anchor(s->loop);

  sockaddr_storage addr{};
  std::string err;
  // Numeric only: chatd never resolves names, and says so.
  server::AddressRules rules;
  rules.what = "listen address";
  rules.bad_host = "bad host in";
  rules.bad_host_tail = " (use a numeric IPv4 or [IPv6] address)";
  if (!server::parse_address(options.listen, addr, rules, err)) {
    fprintf(stderr, "%s: %s\n", kName, err.c_str());
    return 2;
  }
  s->tcp.name = kName;
  s->tcp.clock = &s->clock;
  s->tcp.hooks.user = s.get();
  s->tcp.hooks.on_open = on_open;
  s->tcp.hooks.on_read = on_read;
  s->tcp.hooks.on_closed = on_closed;
  sockaddr_storage bound{};
  if (!server::tcp_server_listen(s->tcp, s->loop, addr, options.listen, bound)) return 1;

  uv_check_init(s->loop, &s->check);
  s->check.data = s.get();
  uv_check_start(&s->check, [](uv_check_t* h) { pump(*static_cast<Server*>(h->data)); });
  uv_timer_init(s->loop, &s->core_timer);
  s->core_timer.data = s.get();
  server::signals_start(s->signals, s->loop, kName, on_stop, s.get());

  server::print_listening(kName, server::describe_address(bound));
  return server::run_loop(s->loop, kName);
}

}  // namespace ferry::chat
