// libuv adapter for ResdCore (see server.h for the feature checklist). Listening, accepting,
// client writes, graceful close and signals are servers/common/uv; this file fills their hooks
// and adds what only resd has: zero-copy chunk reads, read back-pressure, the file workers and
// the outgoing chat link.
#include "servers/resource/uv/server.h"

#include <uv.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <memory>

#include "servers/common/uv/address.h"
#include "servers/common/uv/loop_wake.h"
#include "servers/common/uv/signals.h"
#include "servers/common/uv/tcp_server.h"
#include "servers/resource/store/workers.h"

namespace ferry::resource {

namespace {

constexpr const char* kName = "ferry-resd";

struct Server;

struct LinkConn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  Server* server = nullptr;
  bool closed = false;
};

// The chat link's writes. Client connections' writes are servers/common/uv's; the link is an
// outgoing connection with no linger or close-after-output, so it keeps its own tiny request.
struct LinkWriteReq {
  uv_write_t req;
  std::string data;
};

struct Server {
  ResdCore* core = nullptr;
  FileStore* store = nullptr;
  ServerOptions options;
  uv_loop_t* loop = nullptr;
  server::LoopClock clock;
  server::TcpServer tcp;
  server::Signals signals;
  uv_check_t check;
  uv_timer_t core_timer;
  server::LoopWake results;  // the file workers' results are waiting
  std::unique_ptr<WorkerPool> pool;
  sockaddr_storage chat_addr{};
  LinkConn* link = nullptr;
  bool stopping = false;
  bool loop_handles_closed = false;

  int64_t now() const { return clock.now(); }
};

void pump(Server& s);

void on_open(void* user, server::TcpConn& c) {
  Server& s = *static_cast<Server*>(user);
  s.core->on_open(c.id, s.now());
}

void on_closed(void* user, uint64_t id) {
  Server& s = *static_cast<Server*>(user);
  s.core->on_close(id);
  if (s.stopping) pump(s);
}

void on_alloc(void* user, server::TcpConn& c, uv_buf_t* buf) {
  Server& s = *static_cast<Server*>(user);
  size_t len = 0;
  if (char* direct = s.core->read_window(c.id, len)) {
    *buf = uv_buf_init(direct, static_cast<unsigned>(std::min<size_t>(len, UINT_MAX)));
  } else {
    *buf = uv_buf_init(s.tcp.read_buffer, sizeof s.tcp.read_buffer);
  }
}

void on_read(void* user, server::TcpConn& c, const uv_buf_t* buf, size_t nread) {
  Server& s = *static_cast<Server*>(user);
  if (buf->base == s.tcp.read_buffer) {
    s.core->on_bytes(c.id, buf->base, nread, s.now());
  } else {
    s.core->on_read_direct(c.id, nread, s.now());
  }
  // libuv may read many times in one callback round; stop as soon as the bound is passed.
  if (c.reading && !s.core->wants_read(c.id)) server::tcp_conn_set_reading(c, false);
}

// ---- chat link ----

void on_link_closed(uv_handle_t* h) {
  auto* l = static_cast<LinkConn*>(h->data);
  Server& s = *l->server;
  if (s.link == l) s.link = nullptr;
  delete l;
  s.core->link_on_closed(s.now());
  pump(s);
}

void close_link(Server& s) {
  LinkConn* l = s.link;
  if (!l || l->closed) return;
  l->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), on_link_closed);
}

void on_link_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Server& s = *static_cast<LinkConn*>(h->data)->server;
  *buf = uv_buf_init(s.tcp.read_buffer, sizeof s.tcp.read_buffer);
}

void on_link_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Server& s = *static_cast<LinkConn*>(stream->data)->server;
  if (nread > 0) {
    s.core->link_on_bytes(buf->base, static_cast<size_t>(nread), s.now());
  } else if (nread < 0) {
    fprintf(stderr, "ferry-resd: chat link closed: %s\n", uv_strerror(static_cast<int>(nread)));
    close_link(s);
  }
}

void on_link_connect(uv_connect_t* req, int status) {
  auto* l = static_cast<LinkConn*>(req->data);
  Server& s = *l->server;
  if (l->closed) return;  // canceled by close_link
  if (status < 0) {
    fprintf(stderr, "ferry-resd: chat link: connect to %s failed: %s\n", s.options.chat.c_str(),
            uv_strerror(status));
    return close_link(s);
  }
  uv_tcp_nodelay(&l->tcp, 1);
  s.core->link_on_connected(s.now());
  uv_read_start(reinterpret_cast<uv_stream_t*>(&l->tcp), on_link_alloc, on_link_read);
  pump(s);
}

void start_link(Server& s) {
  auto* l = new LinkConn{};
  l->server = &s;
  l->tcp.data = l;
  l->connect.data = l;
  uv_tcp_init(s.loop, &l->tcp);
  s.link = l;
  s.core->link_on_connecting(s.now());
  int rc = uv_tcp_connect(&l->connect, &l->tcp, reinterpret_cast<sockaddr*>(&s.chat_addr),
                          on_link_connect);
  if (rc != 0) {
    fprintf(stderr, "ferry-resd: chat link: connect failed: %s\n", uv_strerror(rc));
    close_link(s);
  }
}

void on_link_write(uv_write_t* req, int) {
  // A failed write shows up as a read error too, which closes the link.
  delete reinterpret_cast<LinkWriteReq*>(req);
}

void link_write(Server& s, std::string&& bytes) {
  LinkConn* l = s.link;
  if (!l || l->closed) return;
  auto* w = new LinkWriteReq{};
  w->data = std::move(bytes);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&l->tcp), &buf, 1, on_link_write) != 0) {
    delete w;
    close_link(s);
  }
}

// ---- the pump ----

void close_loop_handles(Server& s) {
  if (s.loop_handles_closed) return;
  s.loop_handles_closed = true;
  // Join the workers before the async handle goes: they signal it after every job.
  s.pool->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&s.check), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.core_timer), nullptr);
  server::tcp_server_close_timers(s.tcp);
  s.results.close();
}

// Feeds finished jobs and due timeouts to the core, then drains all of its outputs. Called
// from the check phase (after each iteration's I/O), from the results wake-up and timers.
void pump(Server& s) {
  if (s.loop_handles_closed) return;
  int64_t now = s.now();
  JobResult r;
  while (s.pool->poll_result(r)) s.core->on_job_done(std::move(r), now);
  if (now >= s.core->poll_timeout()) s.core->handle_timeout(now);
  if (!s.link && !s.stopping && s.core->link_connect_due(now)) start_link(s);
  Job job;
  while (s.core->poll_job(job)) {
    if (!s.stopping) s.pool->submit(std::move(job));
  }
  ConnId id;
  std::string bytes;
  while (s.core->poll_send(id, bytes)) server::tcp_server_write(s.tcp, id, std::move(bytes));
  while (s.core->poll_close(id)) server::tcp_server_request_close(s.tcp, id);
  while (s.core->link_poll_send(bytes)) link_write(s, std::move(bytes));
  if (s.core->link_poll_close()) close_link(s);
  std::string line;
  while (s.core->poll_log(line)) fprintf(stderr, "ferry-resd: %s\n", line.c_str());
  for (auto& [cid, c] : s.tcp.conns) {
    if (c->closed || c->close_requested) continue;
    server::tcp_conn_set_reading(*c, s.core->wants_read(cid));
  }
  if (s.stopping && s.tcp.conns.empty() && !s.link) return close_loop_handles(s);
  static_assert(kNoTimeout == INT64_MAX, "arm_core_timer stops the timer at INT64_MAX");
  server::arm_core_timer(s.core_timer, s.core->poll_timeout(), now,
                         [](uv_timer_t* t) { pump(*static_cast<Server*>(t->data)); });
}

void on_stop(void* user) {
  Server& s = *static_cast<Server*>(user);
  s.stopping = true;
  server::tcp_server_close_listener(s.tcp);
  if (s.options.on_stop) s.options.on_stop();
  s.core->shutdown(s.now());
  close_link(s);
  pump(s);
}

}  // namespace

int run_server(ResdCore& core, FileStore& store, const ServerOptions& options) {
  auto s = std::make_unique<Server>();
  s->core = &core;
  s->store = &store;
  s->options = options;
  s->loop = uv_default_loop();
  s->clock.anchor(s->loop);

  sockaddr_storage addr{};
  std::string err;
  server::AddressRules listen_rules;  // numeric only; --chat may name a host
  server::AddressRules chat_rules;
  chat_rules.resolve = true;
  if (!server::parse_address(options.listen, addr, listen_rules, err) ||
      (!options.chat.empty() &&
       !server::parse_address(options.chat, s->chat_addr, chat_rules, err))) {
    fprintf(stderr, "%s: %s\n", kName, err.c_str());
    return 2;
  }
  s->tcp.name = kName;
  s->tcp.clock = &s->clock;
  s->tcp.hooks.user = s.get();
  s->tcp.hooks.on_open = on_open;
  s->tcp.hooks.on_alloc = on_alloc;
  s->tcp.hooks.on_read = on_read;
  s->tcp.hooks.on_closed = on_closed;
  sockaddr_storage bound{};
  if (!server::tcp_server_listen(s->tcp, s->loop, addr, options.listen, bound)) return 1;
  std::string bound_text = server::describe_address(bound);
  core.set_advertise(options.advertise.empty() ? bound_text : options.advertise);

  Server* sp = s.get();
  if (int rc = s->results.start(s->loop, [sp] { pump(*sp); }); rc != 0) {
    fprintf(stderr, "%s: cannot set up the workers' wake-up: %s\n", kName, uv_strerror(rc));
    return 1;
  }
  server::LoopWake* results = &s->results;
  s->pool = std::make_unique<WorkerPool>(store, options.workers, [results] { results->notify(); });
  uv_check_init(s->loop, &s->check);
  s->check.data = s.get();
  uv_check_start(&s->check, [](uv_check_t* h) { pump(*static_cast<Server*>(h->data)); });
  uv_timer_init(s->loop, &s->core_timer);
  s->core_timer.data = s.get();
  server::signals_start(s->signals, s->loop, kName, on_stop, s.get());

  server::print_listening(kName, bound_text);
  if (options.after_listening) options.after_listening();
  pump(*s);  // jobs from start-up (verifies of complete uploads) and the first link attempt
  return server::run_loop(s->loop, kName);
}

}  // namespace ferry::resource
