#include "sdk/uv/uv_driver.h"

#include <cstring>
#include <memory>

#include "sdk/include/ferry.h"

namespace ferry::sdk {

// One connection attempt. It outlives the core's interest in it (detached) until libuv has
// finished with every request on it; conn_close_callback (or resolve_callback, before the
// socket exists) deletes it.
struct UvDriver::Conn {
  UvDriver* driver = nullptr;
  uv_getaddrinfo_t resolve{};
  uv_tcp_t tcp{};
  uv_connect_t connect{};
  uv_shutdown_t shutdown{};
  bool tcp_open = false;
  bool connected = false;
  bool detached = false;
};

namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;
};

int connect_error(int uv_status) {
  if (uv_status == UV_ECONNREFUSED) return FERRY_ECONNREFUSED;
  if (uv_status == UV_ETIMEDOUT) return FERRY_ETIMEDOUT;
  return FERRY_ENOTCONN;
}

}  // namespace

UvDriver::UvDriver(ClientCore& core, std::string host, std::string port, DriverHooks hooks)
    : core_(core), host_(std::move(host)), port_(std::move(port)), hooks_(std::move(hooks)) {}

UvDriver::~UvDriver() {
  // run() closes the loop; a driver that was initialised but never run closes it here.
  if (initialized_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_guard_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
}

int UvDriver::init() {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) return rc;
  loop_.data = this;
  uv_async_init(&loop_, &async_, async_callback);
  uv_timer_init(&loop_, &timer_);
  uv_timer_init(&loop_, &stop_guard_);
  async_.data = timer_.data = stop_guard_.data = this;
  initialized_ = true;
  return 0;
}

void UvDriver::wake() { uv_async_send(&async_); }

void UvDriver::request_stop() {
  stop_requested_ = true;
  uv_async_send(&async_);
}

uint64_t UvDriver::now() {
  uv_update_time(&loop_);
  return uv_now(&loop_);
}

void UvDriver::run() {
  core_.start(now());
  step();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  initialized_ = false;
}

void UvDriver::step() {
  if (stopping_) return;
  for (;;) {
    flush();
    if (core_.poll_close() && conn_) close_conn(conn_);
    if (!core_.poll_connect()) break;
    start_connect();  // may report a failure to the core at once: loop to act on it
  }
  hooks_.publish_events();
  std::optional<uint64_t> at = core_.poll_timeout();
  if (!at) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t t = now();
  uv_timer_start(&timer_, timer_callback, *at > t ? *at - t : 0, 0);
}

void UvDriver::flush() {
  std::string out = core_.poll_send();
  if (out.empty() || !conn_ || !conn_->connected) return;
  auto w = std::make_unique<WriteReq>();
  w->data = std::move(out);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&conn_->tcp), &buf, 1, write_callback);
  if (rc != 0) return connection_lost(conn_, rc);
  w->req.data = w.get();
  w.release();  // write_callback owns it now
}

void UvDriver::start_connect() {
  if (conn_) close_conn(conn_);
  auto* c = new Conn();
  c->driver = this;
  c->resolve.data = c;
  conn_ = c;
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc =
      uv_getaddrinfo(&loop_, &c->resolve, resolve_callback, host_.c_str(), port_.c_str(), &hints);
  if (rc != 0) {
    conn_ = nullptr;
    delete c;
    core_.on_connect_failed(FERRY_ERESOLVE, std::string("resolve: ") + uv_strerror(rc), now());
  }
}

void UvDriver::resolve_callback(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  auto* c = static_cast<Conn*>(req->data);
  UvDriver* d = c->driver;
  if (c->detached) {
    if (res) uv_freeaddrinfo(res);
    delete c;
    return;
  }
  if (status != 0 || !res) {
    d->conn_ = nullptr;
    delete c;
    d->core_.on_connect_failed(FERRY_ERESOLVE,
                               "cannot resolve " + d->host_ + ": " + uv_strerror(status), d->now());
    return d->step();
  }
  uv_tcp_init(&d->loop_, &c->tcp);
  c->tcp.data = c;
  c->connect.data = c;
  c->tcp_open = true;
  // Chat frames are small and latency-bound; Nagle would hold them back.
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = uv_tcp_connect(&c->connect, &c->tcp, res->ai_addr, connect_callback);
  uv_freeaddrinfo(res);
  if (rc != 0) {
    d->close_conn(c);
    d->core_.on_connect_failed(connect_error(rc), std::string("connect: ") + uv_strerror(rc),
                               d->now());
    d->step();
  }
}

void UvDriver::connect_callback(uv_connect_t* req, int status) {
  auto* c = static_cast<Conn*>(req->data);
  UvDriver* d = c->driver;
  if (c->detached) return;
  if (status != 0) {
    d->close_conn(c);
    d->core_.on_connect_failed(
        connect_error(status),
        "connect to " + d->host_ + ":" + d->port_ + ": " + uv_strerror(status), d->now());
    return d->step();
  }
  c->connected = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), alloc_callback, read_callback);
  d->core_.on_connected(d->now());
  d->step();
}

void UvDriver::alloc_callback(uv_handle_t* h, size_t, uv_buf_t* buf) {
  UvDriver* d = static_cast<Conn*>(h->data)->driver;
  *buf = uv_buf_init(d->read_buf_, sizeof d->read_buf_);
}

void UvDriver::read_callback(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  UvDriver* d = c->driver;
  if (c->detached || d->stopping_) return;
  if (nread > 0) {
    d->core_.on_bytes(buf->base, static_cast<size_t>(nread), d->now());
    return d->step();
  }
  if (nread < 0) d->connection_lost(c, static_cast<int>(nread));
}

void UvDriver::write_callback(uv_write_t* req, int status) {
  std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req->data));
  auto* c = static_cast<Conn*>(req->handle->data);
  if (status != 0 && !c->detached && !c->driver->stopping_) {
    c->driver->connection_lost(c, status);
  }
}

void UvDriver::connection_lost(Conn* c, int uv_status) {
  close_conn(c);
  std::string detail = uv_status == UV_EOF ? "the server closed the connection"
                                           : std::string("connection: ") + uv_strerror(uv_status);
  int err = uv_status == UV_EOF || uv_status == UV_ECONNRESET ? FERRY_ENOTCONN : FERRY_EIO;
  core_.on_disconnected(err, detail, now());
  step();
}

void UvDriver::close_conn(Conn* c) {
  c->detached = true;
  if (conn_ == c) conn_ = nullptr;
  if (!c->tcp_open) {
    uv_cancel(reinterpret_cast<uv_req_t*>(&c->resolve));  // resolve_callback deletes c
    return;
  }
  auto* h = reinterpret_cast<uv_handle_t*>(&c->tcp);
  if (!uv_is_closing(h)) uv_close(h, conn_close_callback);
}

void UvDriver::conn_close_callback(uv_handle_t* h) { delete static_cast<Conn*>(h->data); }

void UvDriver::async_callback(uv_async_t* h) {
  auto* d = static_cast<UvDriver*>(h->data);
  if (d->stopping_) return;
  d->hooks_.run_commands(d->now());
  if (d->stop_requested_) return d->begin_stop();
  d->step();
}

void UvDriver::timer_callback(uv_timer_t* h) {
  auto* d = static_cast<UvDriver*>(h->data);
  d->core_.handle_timeout(d->now());
  d->step();
}

void UvDriver::begin_stop() {
  // Flush what the last commands produced (a logout, a send) before closing, but never wait
  // long for a server that does not read.
  flush();
  hooks_.publish_events();
  stopping_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  Conn* c = conn_;
  if (c) c->shutdown.data = c;
  if (c && c->connected &&
      uv_shutdown(&c->shutdown, reinterpret_cast<uv_stream_t*>(&c->tcp), shutdown_callback) == 0) {
    uv_timer_start(&stop_guard_, stop_guard_callback, 500, 0);
    return;
  }
  if (c) close_conn(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_guard_), nullptr);
}

void UvDriver::shutdown_callback(uv_shutdown_t* req, int) {
  auto* c = static_cast<Conn*>(req->data);
  UvDriver* d = c->driver;
  d->close_conn(c);
  auto* g = reinterpret_cast<uv_handle_t*>(&d->stop_guard_);
  if (!uv_is_closing(g)) uv_close(g, nullptr);
}

void UvDriver::stop_guard_callback(uv_timer_t* h) {
  auto* d = static_cast<UvDriver*>(h->data);
  if (d->conn_) d->close_conn(d->conn_);
  uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
}

}  // namespace ferry::sdk
