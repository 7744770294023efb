// libuv adapter for ResdCore (see server.h for the feature checklist).
#include "servers/resource/uv/server.h"

#include <uv.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "servers/resource/store/workers.h"

namespace ferry::resource {

namespace {

constexpr int64_t kLingerMs = 2000;
constexpr size_t kReadBufferBytes = 256 * 1024;

struct Server;

struct Client {
  uv_tcp_t tcp;  // first member: the handle pointer is the Client pointer
  Server* server = nullptr;
  ConnId id = 0;
  size_t writes_pending = 0;
  bool reading = false;
  bool close_requested = false;
  bool shut_down = false;
  bool closed = false;
  int64_t linger_deadline_ms = 0;
};

struct LinkConn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  Server* server = nullptr;
  bool closed = false;
};

struct WriteReq {
  uv_write_t req;
  Client* client = nullptr;  // null for the chat link
  std::string data;
};

struct ShutdownReq {
  uv_shutdown_t req;
  Client* client;
};

struct Server {
  ResdCore* core = nullptr;
  FileStore* store = nullptr;
  ServerOptions options;
  uv_loop_t* loop = nullptr;
  uv_tcp_t listener;
  uv_check_t check;
  uv_timer_t core_timer;
  uv_timer_t linger_timer;
  uv_signal_t sigterm, sigint;
  uv_async_t results;
  std::unique_ptr<WorkerPool> pool;
  sockaddr_storage chat_addr{};
  LinkConn* link = nullptr;
  int64_t epoch_base_ms = 0;
  ConnId next_id = 1;
  std::unordered_map<ConnId, Client*> clients;
  std::unordered_set<Client*> lingering;
  bool stopping = false;
  bool loop_handles_closed = false;
  char read_buffer[kReadBufferBytes];

  int64_t now() const { return epoch_base_ms + static_cast<int64_t>(uv_now(loop)); }
};

void pump(Server& s);
void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf);
void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void on_client_closed(uv_handle_t* h) {
  Client* c = reinterpret_cast<Client*>(h);
  Server& s = *c->server;
  s.core->on_close(c->id);
  s.clients.erase(c->id);
  s.lingering.erase(c);
  delete c;
  if (s.stopping) pump(s);
}

void close_client(Client* c) {
  if (c->closed) return;
  c->closed = true;
  c->server->lingering.erase(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_client_closed);
}

void on_shutdown(uv_shutdown_t* req, int status) {
  auto* r = reinterpret_cast<ShutdownReq*>(req);
  Client* c = r->client;
  delete r;
  if (status < 0) close_client(c);
}

void finish_close(Client* c) {
  if (c->closed || c->shut_down) return;
  c->shut_down = true;
  auto* r = new ShutdownReq{};
  r->client = c;
  if (uv_shutdown(&r->req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
    delete r;
    close_client(c);
  }
}

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  Client* c = w->client;
  delete w;
  if (!c) return;  // the chat link: a failed write shows up as a read error too
  c->writes_pending--;
  if (status < 0) return close_client(c);
  if (c->close_requested && c->writes_pending == 0) finish_close(c);
}

void write_to(Server& s, ConnId id, std::string&& bytes) {
  auto it = s.clients.find(id);
  if (it == s.clients.end() || it->second->closed || it->second->shut_down) return;
  Client* c = it->second;
  auto* w = new WriteReq{};
  w->client = c;
  w->data = std::move(bytes);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, on_write) != 0) {
    delete w;
    return close_client(c);
  }
  c->writes_pending++;
}

void linger_tick(uv_timer_t* t) {
  Server& s = *static_cast<Server*>(t->data);
  int64_t now = s.now();
  std::vector<Client*> expired;
  for (Client* l : s.lingering) {
    if (now >= l->linger_deadline_ms) expired.push_back(l);
  }
  for (Client* l : expired) close_client(l);
  if (s.lingering.empty()) uv_timer_stop(t);
}

void request_close(Server& s, ConnId id) {
  auto it = s.clients.find(id);
  if (it == s.clients.end()) return;
  Client* c = it->second;
  if (c->close_requested) return;
  c->close_requested = true;
  c->linger_deadline_ms = s.now() + kLingerMs;
  if (s.lingering.empty()) uv_timer_start(&s.linger_timer, linger_tick, 250, 250);
  s.lingering.insert(c);
  // Keep reading (and discarding: the core ignores a closing connection) until EOF, so unread
  // input never turns our close into an RST that could destroy the final ERROR frame.
  if (!c->reading && !c->closed) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
    c->reading = true;
  }
  if (c->writes_pending == 0) finish_close(c);
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Client* c = reinterpret_cast<Client*>(h);
  Server& s = *c->server;
  size_t len = 0;
  if (char* direct = s.core->read_window(c->id, len)) {
    *buf = uv_buf_init(direct, static_cast<unsigned>(std::min<size_t>(len, UINT_MAX)));
  } else {
    *buf = uv_buf_init(s.read_buffer, sizeof s.read_buffer);
  }
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Client* c = reinterpret_cast<Client*>(stream);
  Server& s = *c->server;
  if (nread > 0) {
    if (buf->base == s.read_buffer) {
      s.core->on_bytes(c->id, buf->base, static_cast<size_t>(nread), s.now());
    } else {
      s.core->on_read_direct(c->id, static_cast<size_t>(nread), s.now());
    }
    // libuv may read many times in one callback round; stop as soon as the bound is passed.
    if (c->reading && !s.core->wants_read(c->id)) {
      uv_read_stop(stream);
      c->reading = false;
    }
  } else if (nread < 0) {
    close_client(c);
  }
}

void on_connection(uv_stream_t* listener, int status) {
  Server& s = *static_cast<Server*>(listener->data);
  if (status < 0) {
    fprintf(stderr, "ferry-resd: accept failed: %s\n", uv_strerror(status));
    return;
  }
  auto* c = new Client{};
  c->server = &s;
  uv_tcp_init(s.loop, &c->tcp);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Client*>(h); });
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);  // acks are small and the sender's window waits for them
  c->id = s.next_id++;
  s.clients[c->id] = c;
  s.core->on_open(c->id, s.now());
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  c->reading = true;
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
  *buf = uv_buf_init(s.read_buffer, sizeof s.read_buffer);
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

void link_write(Server& s, std::string&& bytes) {
  LinkConn* l = s.link;
  if (!l || l->closed) return;
  auto* w = new WriteReq{};
  w->data = std::move(bytes);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&l->tcp), &buf, 1, on_write) != 0) {
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
  uv_close(reinterpret_cast<uv_handle_t*>(&s.linger_timer), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.results), nullptr);
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
  while (s.core->poll_send(id, bytes)) write_to(s, id, std::move(bytes));
  while (s.core->poll_close(id)) request_close(s, id);
  while (s.core->link_poll_send(bytes)) link_write(s, std::move(bytes));
  if (s.core->link_poll_close()) close_link(s);
  std::string line;
  while (s.core->poll_log(line)) fprintf(stderr, "ferry-resd: %s\n", line.c_str());
  for (auto& [cid, c] : s.clients) {
    if (c->closed || c->close_requested) continue;
    bool want = s.core->wants_read(cid);
    if (want && !c->reading) {
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
    } else if (!want && c->reading) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    }
    c->reading = want;
  }
  if (s.stopping && s.clients.empty() && !s.link) return close_loop_handles(s);
  int64_t deadline = s.core->poll_timeout();
  if (deadline == kNoTimeout) {
    uv_timer_stop(&s.core_timer);
  } else {
    uint64_t delay = deadline > now ? static_cast<uint64_t>(deadline - now) : 0;
    uv_timer_start(
        &s.core_timer, [](uv_timer_t* t) { pump(*static_cast<Server*>(t->data)); }, delay, 0);
  }
}

void on_signal(uv_signal_t* sig, int signum) {
  Server& s = *static_cast<Server*>(sig->data);
  if (s.stopping) return;
  fprintf(stderr, "ferry-resd: signal %d, shutting down\n", signum);
  s.stopping = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&s.listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigint), nullptr);
  s.core->shutdown(s.now());
  close_link(s);
  pump(s);
}

bool parse_address(const std::string& text, sockaddr_storage& addr, bool resolve,
                   std::string& err) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    err = "address must be HOST:PORT, got '" + text + "'";
    return false;
  }
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  long port = strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    err = "bad port in '" + text + "'";
    return false;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (uv_ip4_addr(host.c_str(), static_cast<int>(port), reinterpret_cast<sockaddr_in*>(&addr)) ==
          0 ||
      uv_ip6_addr(host.c_str(), static_cast<int>(port), reinterpret_cast<sockaddr_in6*>(&addr)) ==
          0) {
    return true;
  }
  if (resolve) {
    // Once, at start-up, before the loop runs (a NULL callback makes it synchronous).
    uv_getaddrinfo_t req;
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    if (uv_getaddrinfo(uv_default_loop(), &req, nullptr, host.c_str(), port_text.c_str(), &hints) ==
            0 &&
        req.addrinfo) {
      std::memcpy(&addr, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
      uv_freeaddrinfo(req.addrinfo);
      return true;
    }
  }
  err = "cannot resolve host in '" + text + "'";
  return false;
}

std::string describe(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a6, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a6->sin6_port));
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(a4, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a4->sin_port));
}

int64_t wall_clock_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int run_server(ResdCore& core, FileStore& store, const ServerOptions& options) {
  auto s = std::make_unique<Server>();
  s->core = &core;
  s->store = &store;
  s->options = options;
  s->loop = uv_default_loop();
  uv_update_time(s->loop);
  s->epoch_base_ms = wall_clock_ms() - static_cast<int64_t>(uv_now(s->loop));

  sockaddr_storage addr{};
  std::string err;
  if (!parse_address(options.listen, addr, false, err) ||
      (!options.chat.empty() && !parse_address(options.chat, s->chat_addr, true, err))) {
    fprintf(stderr, "ferry-resd: %s\n", err.c_str());
    return 2;
  }
  uv_tcp_init(s->loop, &s->listener);
  s->listener.data = s.get();
  int rc = uv_tcp_bind(&s->listener, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 1024, on_connection);
  if (rc != 0) {
    fprintf(stderr, "ferry-resd: cannot listen on %s: %s\n", options.listen.c_str(),
            uv_strerror(rc));
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    return 1;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &len);
  core.set_advertise(options.advertise.empty() ? describe(bound) : options.advertise);

  uv_async_init(s->loop, &s->results, [](uv_async_t* a) { pump(*static_cast<Server*>(a->data)); });
  s->results.data = s.get();
  uv_async_t* results = &s->results;
  s->pool =
      std::make_unique<WorkerPool>(store, options.workers, [results] { uv_async_send(results); });
  uv_check_init(s->loop, &s->check);
  s->check.data = s.get();
  uv_check_start(&s->check, [](uv_check_t* h) { pump(*static_cast<Server*>(h->data)); });
  uv_timer_init(s->loop, &s->core_timer);
  s->core_timer.data = s.get();
  uv_timer_init(s->loop, &s->linger_timer);
  s->linger_timer.data = s.get();
  uv_signal_init(s->loop, &s->sigterm);
  s->sigterm.data = s.get();
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_init(s->loop, &s->sigint);
  s->sigint.data = s.get();
  uv_signal_start(&s->sigint, on_signal, SIGINT);

  printf("listening on %s\n", describe(bound).c_str());
  fflush(stdout);
  fprintf(stderr, "ferry-resd: listening on %s\n", describe(bound).c_str());
  pump(*s);  // jobs from start-up (verifies of complete uploads) and the first link attempt

  uv_run(s->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(s->loop);
  if (rc != 0) fprintf(stderr, "ferry-resd: loop closed with live handles: %s\n", uv_strerror(rc));
  fprintf(stderr, "ferry-resd: stopped\n");
  return 0;
}

}  // namespace ferry::resource
