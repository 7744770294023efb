// Listen, accept, write and graceful close for both servers (see tcp_server.h).
#include "servers/common/uv/tcp_server.h"

#include <cstdio>
#include <vector>

namespace ferry::server {

namespace {

struct WriteReq {
  uv_write_t req;
  TcpConn* conn;
  std::string data;
};

struct ShutdownReq {
  uv_shutdown_t req;
  TcpConn* conn;
};

void on_conn_closed(uv_handle_t* h) {
  TcpConn* c = reinterpret_cast<TcpConn*>(h);
  TcpServer& t = *c->server;
  uint64_t id = c->id;
  t.conns.erase(id);
  t.lingering.erase(c);
  delete c;
  t.hooks.on_closed(t.hooks.user, id);
}

void close_conn(TcpConn* c) {
  if (c->closed) return;
  c->closed = true;
  c->server->lingering.erase(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_closed);
}

void on_shutdown(uv_shutdown_t* req, int status) {
  auto* r = reinterpret_cast<ShutdownReq*>(req);
  TcpConn* c = r->conn;
  delete r;
  // Keep reading until the peer's EOF (then on_read closes) or the linger deadline.
  if (status < 0) close_conn(c);
}

// All output is written: send FIN and linger for the peer's EOF.
void finish_close(TcpConn* c) {
  if (c->closed || c->shut_down) return;
  c->shut_down = true;
  auto* r = new ShutdownReq{};
  r->conn = c;
  if (uv_shutdown(&r->req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
    delete r;
    close_conn(c);
  }
}

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  TcpConn* c = w->conn;
  delete w;
  c->writes_pending--;
  if (status < 0) return close_conn(c);
  if (c->close_requested && c->writes_pending == 0) finish_close(c);
}

void linger_tick(uv_timer_t* timer) {
  TcpServer& t = *static_cast<TcpServer*>(timer->data);
  int64_t now = t.clock->now();
  std::vector<TcpConn*> expired;
  for (TcpConn* l : t.lingering) {
    if (now >= l->linger_deadline_ms) expired.push_back(l);
  }
  for (TcpConn* l : expired) close_conn(l);
  if (t.lingering.empty()) uv_timer_stop(timer);
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  TcpConn* c = reinterpret_cast<TcpConn*>(h);
  TcpServer& t = *c->server;
  if (t.hooks.on_alloc) return t.hooks.on_alloc(t.hooks.user, *c, buf);
  // One buffer for all reads: the core copies what it keeps before on_read returns.
  *buf = uv_buf_init(t.read_buffer, sizeof t.read_buffer);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  TcpConn* c = reinterpret_cast<TcpConn*>(stream);
  TcpServer& t = *c->server;
  if (nread > 0) {
    t.hooks.on_read(t.hooks.user, *c, buf, static_cast<size_t>(nread));
  } else if (nread < 0) {
    close_conn(c);  // EOF or error; the core learns in on_closed
  }
}

void on_connection(uv_stream_t* listener, int status) {
  TcpServer& t = *static_cast<TcpServer*>(listener->data);
  if (status < 0) {
    fprintf(stderr, "%s: accept failed: %s\n", t.name, uv_strerror(status));
    return;
  }
  auto* c = new TcpConn{};
  c->server = &t;
  uv_tcp_init(t.loop, &c->tcp);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<TcpConn*>(h); });
    return;
  }
  // Small frames and acks that a sender's window waits for: latency matters, and writes are
  // coalesced anyway.
  uv_tcp_nodelay(&c->tcp, 1);
  c->id = t.next_id++;
  t.conns[c->id] = c;
  t.hooks.on_open(t.hooks.user, *c);
  tcp_conn_set_reading(*c, true);
}

}  // namespace

bool tcp_server_listen(TcpServer& t, uv_loop_t* loop, const sockaddr_storage& addr,
                       const std::string& listen_text, sockaddr_storage& bound) {
  t.loop = loop;
  uv_tcp_init(loop, &t.listener);
  t.listener.data = &t;
  int rc = uv_tcp_bind(&t.listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&t.listener), 1024, on_connection);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot listen on %s: %s\n", t.name, listen_text.c_str(), uv_strerror(rc));
    uv_close(reinterpret_cast<uv_handle_t*>(&t.listener), nullptr);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return false;
  }
  int len = sizeof bound;
  uv_tcp_getsockname(&t.listener, reinterpret_cast<sockaddr*>(&bound), &len);
  uv_timer_init(loop, &t.linger_timer);
  t.linger_timer.data = &t;
  return true;
}

void print_listening(const char* name, const std::string& address) {
  printf("listening on %s\n", address.c_str());
  fflush(stdout);
  fprintf(stderr, "%s: listening on %s\n", name, address.c_str());
}

TcpConn* tcp_server_write(TcpServer& t, uint64_t id, std::string&& bytes) {
  auto it = t.conns.find(id);
  if (it == t.conns.end() || it->second->closed || it->second->shut_down) return nullptr;
  TcpConn* c = it->second;
  // Fast path: with nothing queued, write now without a request. A uv_write that completes
  // at once still allocates its request here, defers its callback to the next iteration and
  // re-arms the socket in epoll: a syscall and an allocation per message for a chat server.
  size_t done = 0;
  if (c->writes_pending == 0) {
    uv_buf_t now = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &now, 1);
    if (n >= 0) {
      done = static_cast<size_t>(n);
    } else if (n != UV_EAGAIN) {
      close_conn(c);
      return nullptr;
    }
    if (done == bytes.size()) return c;
  }
  auto* w = new WriteReq{};
  w->conn = c;
  w->data = done == 0 ? std::move(bytes) : bytes.substr(done);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, on_write) != 0) {
    delete w;
    close_conn(c);
    return nullptr;
  }
  c->writes_pending++;
  return c;
}

void tcp_server_request_close(TcpServer& t, uint64_t id) {
  auto it = t.conns.find(id);
  if (it == t.conns.end()) return;
  TcpConn* c = it->second;
  if (c->close_requested) return;
  c->close_requested = true;
  c->linger_deadline_ms = t.clock->now() + kLingerMs;
  if (t.lingering.empty()) uv_timer_start(&t.linger_timer, linger_tick, 250, 250);
  t.lingering.insert(c);
  // Keep reading (and discarding: the core ignores a closing connection) until EOF, so unread
  // input never turns our close into an RST that could destroy the final ERROR frame.
  if (!c->closed) tcp_conn_set_reading(*c, true);
  if (c->writes_pending == 0) finish_close(c);
}

void tcp_conn_set_reading(TcpConn& c, bool on) {
  if (c.reading == on) return;
  if (on) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c.tcp), on_alloc, on_read);
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
  }
  c.reading = on;
}

void tcp_server_close_listener(TcpServer& t) {
  uv_close(reinterpret_cast<uv_handle_t*>(&t.listener), nullptr);
}

void tcp_server_close_timers(TcpServer& t) {
  uv_close(reinterpret_cast<uv_handle_t*>(&t.linger_timer), nullptr);
}

}  // namespace ferry::server
