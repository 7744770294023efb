// libuv adapter for ChatCore (see server.h for the feature checklist).
#include "servers/chat/uv/server.h"

#include <uv.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "servers/chat/core/password.h"

namespace ferry::chat {

namespace {

// How long a closing connection may take to read its last bytes (a fatal ERROR) before it is
// cut hard. Also bounds how long a stuck slow consumer holds its queued memory.
constexpr int64_t kLingerMs = 2000;
constexpr size_t kReadBufferBytes = 256 * 1024;

struct Server;

struct Client {
  uv_tcp_t tcp;  // first member: handle->data is not needed to find the Client
  Server* server = nullptr;
  ConnId id = 0;
  size_t writes_pending = 0;
  bool close_requested = false;  // the core asked to close after the pending output
  bool shut_down = false;        // FIN sent
  bool closed = false;           // uv_close called
  int64_t linger_deadline_ms = 0;
};

struct WriteReq {
  uv_write_t req;
  Client* client;
  std::string data;
};

struct ShutdownReq {
  uv_shutdown_t req;
  Client* client;
};

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
  uv_tcp_t listener;
  uv_check_t check;
  uv_timer_t core_timer;
  uv_timer_t linger_timer;
  uv_signal_t sigterm, sigint;
  int64_t epoch_base_ms = 0;
  ConnId next_id = 1;
  std::unordered_map<ConnId, Client*> clients;
  std::unordered_set<Client*> lingering;
  size_t hash_jobs = 0;
  bool stopping = false;
  bool loop_handles_closed = false;
  char read_buffer[kReadBufferBytes];

  int64_t now() const { return epoch_base_ms + static_cast<int64_t>(uv_now(loop)); }
};

void pump(Server& s);
void close_client(Client* c);

void on_client_closed(uv_handle_t* h) {
  Client* c = reinterpret_cast<Client*>(h);
  Server& s = *c->server;
  s.core->on_close(c->id);
  s.clients.erase(c->id);
  s.lingering.erase(c);
  delete c;
  if (s.stopping) pump(s);  // the last client gone lets the loop end
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
  // Keep reading until the peer's EOF (then read_cb closes) or the linger deadline.
  if (status < 0) close_client(c);
}

// All output is written: send FIN and linger for the peer's EOF.
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
  // uv_write already tried to write synchronously; what remains is what the peer has not taken.
  if (uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp)) >
      s.options.max_queue_bytes) {
    s.core->on_slow_consumer(id);
  }
}

void request_close(Server& s, ConnId id) {
  auto it = s.clients.find(id);
  if (it == s.clients.end()) return;
  Client* c = it->second;
  if (c->close_requested) return;
  c->close_requested = true;
  c->linger_deadline_ms = s.now() + kLingerMs;
  if (s.lingering.empty())
    uv_timer_start(
        &s.linger_timer,
        [](uv_timer_t* t) {
          Server& srv = *static_cast<Server*>(t->data);
          int64_t now = srv.now();
          std::vector<Client*> expired;
          for (Client* l : srv.lingering) {
            if (now >= l->linger_deadline_ms) expired.push_back(l);
          }
          for (Client* l : expired) close_client(l);
          if (srv.lingering.empty()) uv_timer_stop(t);
        },
        250, 250);
  s.lingering.insert(c);
  if (c->writes_pending == 0) finish_close(c);
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // One buffer for all reads: the core copies what it keeps before read_cb returns.
  Server& s = *reinterpret_cast<Client*>(h)->server;
  *buf = uv_buf_init(s.read_buffer, sizeof s.read_buffer);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Client* c = reinterpret_cast<Client*>(stream);
  if (nread > 0) {
    c->server->core->on_bytes(c->id, buf->base, static_cast<size_t>(nread), c->server->now());
  } else if (nread < 0) {
    close_client(c);  // EOF or error; the core learns in on_client_closed
  }
}

void on_connection(uv_stream_t* listener, int status) {
  Server& s = *static_cast<Server*>(listener->data);
  if (status < 0) {
    fprintf(stderr, "ferry-chatd: accept failed: %s\n", uv_strerror(status));
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
  uv_tcp_nodelay(&c->tcp, 1);  // small frames, latency matters; writes are coalesced anyway
  c->id = s.next_id++;
  s.clients[c->id] = c;
  s.core->on_open(c->id, s.now());
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
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
  uv_close(reinterpret_cast<uv_handle_t*>(&s.linger_timer), nullptr);
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
  while (s.core->poll_close(id)) request_close(s, id);
  if (s.stopping && s.clients.empty() && s.hash_jobs == 0) return close_loop_handles(s);
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
  fprintf(stderr, "ferry-chatd: signal %d, shutting down\n", signum);
  s.stopping = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&s.listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.sigint), nullptr);
  s.core->shutdown(s.now());
  pump(s);
}

bool parse_listen(const std::string& listen, sockaddr_storage& addr, std::string& err) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    err = "listen address must be HOST:PORT, got '" + listen + "'";
    return false;
  }
  std::string host = listen.substr(0, colon);
  char* end = nullptr;
  long port = strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    err = "bad port in '" + listen + "'";
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
  err = "bad host in '" + listen + "' (use a numeric IPv4 or [IPv6] address)";
  return false;
}

std::string describe(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = {0};
  int port;
  if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a6, host, sizeof host);
    port = ntohs(a6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* a4 = reinterpret_cast<const sockaddr_in*>(&addr);
  uv_ip4_name(a4, host, sizeof host);
  port = ntohs(a4->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

int64_t wall_clock_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int run_server(ChatCore& core, const ServerOptions& options) {
  auto s = std::make_unique<Server>();
  s->core = &core;
  s->options = options;
  s->loop = uv_default_loop();
  // The core's clock: monotonic (uv_now) but anchored to the epoch once, so message ts are
  // wall-clock times that never go backwards and timeouts ignore clock steps.
  uv_update_time(s->loop);
  s->epoch_base_ms = wall_clock_ms() - static_cast<int64_t>(uv_now(s->loop));

  sockaddr_storage addr{};
  std::string err;
  if (!parse_listen(options.listen, addr, err)) {
    fprintf(stderr, "ferry-chatd: %s\n", err.c_str());
    return 2;
  }
  uv_tcp_init(s->loop, &s->listener);
  s->listener.data = s.get();
  int rc = uv_tcp_bind(&s->listener, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 1024, on_connection);
  if (rc != 0) {
    fprintf(stderr, "ferry-chatd: cannot listen on %s: %s\n", options.listen.c_str(),
            uv_strerror(rc));
    return 1;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &len);

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
  fprintf(stderr, "ferry-chatd: listening on %s\n", describe(bound).c_str());

  uv_run(s->loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(s->loop);
  if (rc != 0) fprintf(stderr, "ferry-chatd: loop closed with live handles: %s\n", uv_strerror(rc));
  fprintf(stderr, "ferry-chatd: stopped\n");
  return 0;
}

}  // namespace ferry::chat
