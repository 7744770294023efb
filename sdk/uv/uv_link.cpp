#include "sdk/uv/uv_link.h"

#include <cstring>
#include <memory>
#include <utility>

#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

struct WriteReq {
  uv_write_t req{};
  std::string data;  // owned bytes (write()), empty for borrowed buffers
  std::function<void(int)> done;
};

int connect_error(int uv_status) {
  if (uv_status == UV_ECONNREFUSED) return FERRY_ECONNREFUSED;
  if (uv_status == UV_ETIMEDOUT) return FERRY_ETIMEDOUT;
  return FERRY_ENOTCONN;
}

}  // namespace

UvLink* UvLink::dial(uv_loop_t* loop, const std::string& host, const std::string& port,
                     LinkHooks hooks, int& err, std::string& detail) {
  auto* l = new UvLink(loop, std::move(hooks));
  l->where_ = host + ":" + port;
  l->resolve_.data = l;
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop, &l->resolve_, resolve_callback, host.c_str(), port.c_str(),
                          &hints);
  if (rc != 0) {
    delete l;
    err = FERRY_ERESOLVE;
    detail = std::string("resolve: ") + uv_strerror(rc);
    return nullptr;
  }
  return l;
}

void UvLink::resolve_callback(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  auto* l = static_cast<UvLink*>(req->data);
  if (l->closed_) {
    if (res) uv_freeaddrinfo(res);
    delete l;
    return;
  }
  if (status != 0 || !res) {
    if (res) uv_freeaddrinfo(res);
    l->closed_ = true;  // the owner forgets the link in its hook; nothing else holds it
    auto hook = std::move(l->hooks_.on_connect);
    std::string detail = "cannot resolve " + l->where_ + ": " + uv_strerror(status);
    delete l;
    return hook(FERRY_ERESOLVE, detail);
  }
  uv_tcp_init(l->loop_, &l->tcp_);
  l->tcp_.data = l;
  l->connect_.data = l;
  l->tcp_open_ = true;
  // Chat frames are small and latency-bound, chunks are written whole: Nagle only delays.
  uv_tcp_nodelay(&l->tcp_, 1);
  int rc = uv_tcp_connect(&l->connect_, &l->tcp_, res->ai_addr, connect_callback);
  uv_freeaddrinfo(res);
  if (rc != 0) {
    auto hook = l->hooks_.on_connect;
    l->close();
    hook(connect_error(rc), std::string("connect: ") + uv_strerror(rc));
  }
}

void UvLink::connect_callback(uv_connect_t* req, int status) {
  auto* l = static_cast<UvLink*>(req->data);
  if (l->closed_) return;
  if (status != 0) {
    auto hook = l->hooks_.on_connect;
    std::string detail = "connect to " + l->where_ + ": " + uv_strerror(status);
    l->close();
    return hook(connect_error(status), detail);
  }
  l->connected_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&l->tcp_), alloc_callback, read_callback);
  l->hooks_.on_connect(0, "");
}

void UvLink::alloc_callback(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* l = static_cast<UvLink*>(h->data);
  *buf = uv_buf_init(l->read_buf_, sizeof l->read_buf_);
}

void UvLink::read_callback(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* l = static_cast<UvLink*>(s->data);
  if (l->closed_) return;
  if (nread > 0) return l->hooks_.on_read(buf->base, static_cast<size_t>(nread));
  if (nread < 0) l->lost(static_cast<int>(nread));
}

void UvLink::lost(int uv_status) {
  auto hook = hooks_.on_lost;
  std::string detail = uv_status == UV_EOF ? "the server closed the connection"
                                           : std::string("connection: ") + uv_strerror(uv_status);
  int err = uv_status == UV_EOF || uv_status == UV_ECONNRESET ? FERRY_ENOTCONN : FERRY_EIO;
  close();
  hook(err, detail);
}

// Straight to the socket when nothing is queued ahead (uv_try_write refuses otherwise, so
// order holds): a uv_write that completes at once still costs a request, a deferred callback
// and an epoll_ctl on the next loop turn, per chat frame. Returns how many leading bytes of
// `data` still need a queued write (0 = nothing left to do: all written, not connected, or
// the link was lost), and in `from` where they start.
size_t UvLink::try_write_now(std::string_view data, size_t& from) {
  from = 0;
  if (!connected_ || closed_ || data.empty()) return 0;
  uv_buf_t whole = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &whole, 1);
  if (n == static_cast<int>(data.size())) return 0;
  if (n < 0 && n != UV_EAGAIN) {
    lost(n);
    return 0;
  }
  from = n > 0 ? static_cast<size_t>(n) : 0;
  return data.size() - from;
}

void UvLink::write(std::string data) {
  size_t from = 0;
  if (try_write_now(data, from) == 0) return;
  data.erase(0, from);
  queue_write(std::move(data));
}

void UvLink::write_copy(std::string_view data) {
  size_t from = 0;
  if (try_write_now(data, from) == 0) return;
  queue_write(std::string(data.substr(from)));
}

void UvLink::queue_write(std::string data) {
  auto w = std::make_unique<WriteReq>();
  w->data = std::move(data);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  w->req.data = w.get();
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, write_callback);
  if (rc != 0) return lost(rc);
  w.release();  // write_callback owns it now
}

int UvLink::write_parts(const uv_buf_t* bufs, unsigned n, std::function<void(int)> done) {
  if (!connected_ || closed_) return UV_ENOTCONN;
  auto w = std::make_unique<WriteReq>();
  w->done = std::move(done);
  w->req.data = w.get();
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, n, write_callback);
  if (rc != 0) return rc;
  w.release();
  return 0;
}

void UvLink::write_callback(uv_write_t* req, int status) {
  std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req->data));
  auto* l = static_cast<UvLink*>(req->handle->data);
  if (w->done) w->done(status);
  if (status != 0 && !l->closed_) l->lost(status);
}

bool UvLink::shutdown(std::function<void()> done) {
  if (!connected_ || closed_) return false;
  shutdown_done_ = std::move(done);
  shutdown_req_.data = this;
  return uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), shutdown_callback) ==
         0;
}

void UvLink::shutdown_callback(uv_shutdown_t* req, int) {
  auto* l = static_cast<UvLink*>(req->data);
  if (l->shutdown_done_) std::exchange(l->shutdown_done_, nullptr)();
}

void UvLink::close() {
  if (closed_ && (!tcp_open_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_)))) return;
  closed_ = true;
  // A shutdown still pending is cancelled by the close; its `done` must not run either: the
  // owner may be gone by then (a driver on a shared loop is freed once its own handles close).
  shutdown_done_ = nullptr;
  if (!tcp_open_) {
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));  // resolve_callback deletes the link
    return;
  }
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!uv_is_closing(h)) uv_close(h, close_callback);
}

void UvLink::close_callback(uv_handle_t* h) { delete static_cast<UvLink*>(h->data); }

}  // namespace ferry::sdk
