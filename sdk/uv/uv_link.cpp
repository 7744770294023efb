#include "sdk/uv/uv_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

int connect_error(int uv_status) {
  if (uv_status == UV_ECONNREFUSED) return FERRY_ECONNREFUSED;
  if (uv_status == UV_ETIMEDOUT) return FERRY_ETIMEDOUT;
  return FERRY_ENOTCONN;
}

}  // namespace

uint64_t UvLink::tcp_rtt_us() const {
  uv_os_fd_t fd;
  if (!connected_ || uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) return 0;
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_rtt;
}

int UvLink::set_unsent_limit(uint32_t bytes) {
  uv_os_fd_t fd;
  if (!connected_ || closed_) return UV_ENOTCONN;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) return UV_EBADF;
  int v = static_cast<int>(std::min<uint32_t>(bytes, INT32_MAX));
  if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) != 0) {
    return uv_translate_sys_error(errno);
  }
  return 0;
}

std::string UvLink::peer_ip() const {
  struct sockaddr_storage sa {};
  int len = sizeof sa;
  if (!connected_ ||
      uv_tcp_getpeername(&tcp_, reinterpret_cast<struct sockaddr*>(&sa), &len) != 0) {
    return {};
  }
  char ip[64] = {};
  if (uv_ip_name(reinterpret_cast<const struct sockaddr*>(&sa), ip, sizeof ip) != 0) return {};
  return ip;
}

struct UvLink::WriteReq {
  uv_write_t req{};
  std::string data;  // owned bytes (write()), empty for borrowed buffers
  std::function<void(int)> done;
};

// A write queued behind a file send: owned bytes, borrowed buffers, or another file send.
struct UvLink::Held {
  enum class Kind { Bytes, Parts, File } kind = Kind::Bytes;
  std::string data;
  std::vector<uv_buf_t> bufs;
  std::function<void(int)> done;
  int fd = -1;
  uint64_t offset = 0, len = 0;
};

struct UvLink::FileSend {
  uv_work_t work{};
  UvLink* link = nullptr;
  int fd = -1;
  uint64_t offset = 0, left = 0;
  ssize_t result = 0;  // of the last sendfile
  int err = 0;
  std::function<void(int)> done;
};

UvLink::UvLink(uv_loop_t* loop, LinkHooks hooks) : loop_(loop), hooks_(std::move(hooks)) {}
UvLink::~UvLink() = default;

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
  if (rc == 0 && res->ai_addrlen <= sizeof l->addr_) {
    std::memcpy(&l->addr_, res->ai_addr, res->ai_addrlen);
    uv_timer_init(l->loop_, &l->race_timer_);
    l->race_timer_.data = l;
    l->race_timer_open_ = true;
    uv_timer_start(&l->race_timer_, race_callback, kRaceAfterMs, 0);
  }
  uv_freeaddrinfo(res);
  if (rc != 0) {
    auto hook = l->hooks_.on_connect;
    l->close();
    hook(connect_error(rc), std::string("connect: ") + uv_strerror(rc));
  }
}

void UvLink::connect_callback(uv_connect_t* req, int status) {
  auto* l = static_cast<UvLink*>(req->data);
  if (l->closed_ || l->swapping()) return;  // swapping: cancelled, the racer won
  if (status != 0) {
    // The racer (if any) would meet the same refusal or the same dead path.
    auto hook = l->hooks_.on_connect;
    std::string detail = "connect to " + l->where_ + ": " + uv_strerror(status);
    l->close();
    return hook(connect_error(status), detail);
  }
  l->drop_racer();
  l->on_connected();
}

void UvLink::on_connected() {
  if (race_timer_open_) uv_timer_stop(&race_timer_);
  connected_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc_callback, read_callback);
  hooks_.on_connect(0, "");
}

// --- The connect race ----------------------------------------------------------------------

struct UvLink::Racer {
  uv_tcp_t tcp{};
  uv_connect_t req{};
  UvLink* link = nullptr;
  bool closing = false;
};

void UvLink::race_callback(uv_timer_t* t) {
  auto* l = static_cast<UvLink*>(t->data);
  if (l->closed_ || l->connected_ || l->swapping() || l->racer_) return;
  auto* r = new Racer();
  r->link = l;
  r->tcp.data = r;
  r->req.data = r;
  uv_tcp_init(l->loop_, &r->tcp);
  uv_tcp_nodelay(&r->tcp, 1);
  l->racer_ = r;
  if (uv_tcp_connect(&r->req, &r->tcp, reinterpret_cast<const sockaddr*>(&l->addr_),
                     racer_connected) != 0) {
    l->drop_racer();  // no second attempt; the first goes on
  }
}

void UvLink::racer_connected(uv_connect_t* req, int status) {
  auto* r = static_cast<Racer*>(req->data);
  if (r->closing) return;  // dropped (UV_ECANCELED): its close callback frees it
  UvLink* l = r->link;
  if (status != 0 || l->closed_ || l->connected_ || l->swapping()) return l->drop_racer();
  l->adopt(r);
}

// The second attempt connected first. Its socket moves into tcp_: a dup of it outlives the
// racer's handle, and tcp_ (whose own connect is still pending) closes and is opened again
// on it in swap_closed.
void UvLink::adopt(Racer* r) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&r->tcp), &fd) != 0) return drop_racer();
  adopt_fd_ = ::dup(fd);
  if (adopt_fd_ < 0) return drop_racer();
  drop_racer();
  if (race_timer_open_) uv_timer_stop(&race_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), swap_closed);
}

void UvLink::swap_closed(uv_handle_t* h) {
  auto* l = static_cast<UvLink*>(h->data);
  int fd = std::exchange(l->adopt_fd_, -1);
  if (l->closed_) {  // close() came meanwhile: tcp_ is closed for good
    ::close(fd);
    l->tcp_closed_ = true;
    return l->maybe_free();
  }
  uv_tcp_init(l->loop_, &l->tcp_);
  l->tcp_.data = l;
  int rc = uv_tcp_open(&l->tcp_, fd);
  if (rc != 0) {
    ::close(fd);
    auto hook = l->hooks_.on_connect;
    std::string detail = "connect to " + l->where_ + ": " + uv_strerror(rc);
    l->close();
    return hook(connect_error(rc), detail);
  }
  uv_tcp_nodelay(&l->tcp_, 1);
  l->on_connected();
}

void UvLink::drop_racer() {
  Racer* r = std::exchange(racer_, nullptr);
  if (!r) return;
  r->closing = true;
  pending_closes_++;
  uv_close(reinterpret_cast<uv_handle_t*>(&r->tcp), [](uv_handle_t* h) {
    auto* r = static_cast<Racer*>(h->data);
    UvLink* l = r->link;
    delete r;
    l->pending_closes_--;
    l->maybe_free();
  });
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
  if (holding()) {
    auto h = std::make_unique<Held>();
    h->data = std::move(data);
    held_.push_back(std::move(h));
    return;
  }
  size_t from = 0;
  if (try_write_now(data, from) == 0) return;
  data.erase(0, from);
  queue_write(std::move(data));
}

void UvLink::write_copy(std::string_view data) {
  if (holding()) return write(std::string(data));
  size_t from = 0;
  if (try_write_now(data, from) == 0) return;
  queue_write(std::string(data.substr(from)));
}

// uv_write of `w`'s buffers; on success write_callback owns `w` (released here), on failure
// the caller still has it (and its `done`).
int UvLink::start_write(std::unique_ptr<WriteReq>& w, const uv_buf_t* bufs, unsigned n) {
  w->req.data = w.get();
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, n, write_callback);
  if (rc != 0) return rc;
  uv_writes_++;
  w.release();
  return 0;
}

void UvLink::queue_write(std::string data) {
  auto w = std::make_unique<WriteReq>();
  w->data = std::move(data);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (int rc = start_write(w, &buf, 1); rc != 0) lost(rc);
}

int UvLink::write_parts(const uv_buf_t* bufs, unsigned n, std::function<void(int)> done) {
  if (!connected_ || closed_) return UV_ENOTCONN;
  if (holding()) {
    auto h = std::make_unique<Held>();
    h->kind = Held::Kind::Parts;
    h->bufs.assign(bufs, bufs + n);
    h->done = std::move(done);
    held_.push_back(std::move(h));
    return 0;
  }
  auto w = std::make_unique<WriteReq>();
  w->done = std::move(done);
  return start_write(w, bufs, n);
}

void UvLink::write_callback(uv_write_t* req, int status) {
  std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req->data));
  auto* l = static_cast<UvLink*>(req->handle->data);
  l->uv_writes_--;
  if (w->done) w->done(status);
  if (status != 0 && !l->closed_) return l->lost(status);
  if (!l->closed_ && l->holding()) l->drain();  // a file send may have waited for this one
}

// --- File sends ---------------------------------------------------------------------------------

int UvLink::prepare_file_sends() {
  if (!connected_ || closed_) return UV_ENOTCONN;
  if (dup_fd_ < 0) {
    // sendfile and uv_poll work on a dup: libuv owns the socket's own descriptor and its
    // epoll registration (one watcher per descriptor number).
    uv_os_fd_t sock = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock) != 0) return UV_EBADF;
    dup_fd_ = ::dup(sock);
    if (dup_fd_ < 0) return uv_translate_sys_error(errno);
    if (uv_poll_init(loop_, &poll_, dup_fd_) != 0) {
      ::close(dup_fd_);
      dup_fd_ = -1;
      return UV_EBADF;
    }
    poll_.data = this;
    poll_open_ = true;
  }
  return 0;
}

int UvLink::send_file(int fd, uint64_t offset, uint64_t len, std::function<void(int)> done) {
  if (int rc = prepare_file_sends(); rc != 0) return rc;
  auto h = std::make_unique<Held>();
  h->kind = Held::Kind::File;
  h->fd = fd;
  h->offset = offset;
  h->len = len;
  h->done = std::move(done);
  held_.push_back(std::move(h));
  drain();
  return 0;
}

// Issues the held writes in order; a file send starts once every write before it is in the
// socket, and everything after it waits until it is done.
void UvLink::drain() {
  while (!closed_ && !file_ && !held_.empty()) {
    Held& h = *held_.front();
    if (h.kind == Held::Kind::File) {
      if (uv_writes_ > 0) return;  // write_callback drains again
      auto* f = new FileSend();
      f->link = this;
      f->fd = h.fd;
      f->offset = h.offset;
      f->left = h.len;
      f->done = std::move(h.done);
      f->work.data = f;
      held_.pop_front();
      file_ = f;
      if (f->left == 0) return end_file(0);
      return start_file_job();
    }
    std::unique_ptr<Held> item = std::move(held_.front());
    held_.pop_front();
    if (item->kind == Held::Kind::Bytes) {
      queue_write(std::move(item->data));
      continue;
    }
    auto w = std::make_unique<WriteReq>();
    w->done = std::move(item->done);
    int rc = start_write(w, item->bufs.data(), static_cast<unsigned>(item->bufs.size()));
    if (rc != 0) {
      if (w->done) w->done(rc);
      return lost(rc);
    }
  }
}

void UvLink::start_file_job() {
  jobs_++;
  int rc = uv_queue_work(loop_, &file_->work, file_work, file_after);
  if (rc != 0) {
    jobs_--;
    end_file(rc);
    lost(rc);
  }
}

// On a pool thread: one sendfile into the (non-blocking) socket; reading the file may block
// on the disk, which is why it is not on the loop.
void UvLink::file_work(uv_work_t* req) {
  auto* f = static_cast<FileSend*>(req->data);
  off_t off = static_cast<off_t>(f->offset);
  size_t want = static_cast<size_t>(std::min<uint64_t>(f->left, 1u << 30));
  // sendfile has no MSG_NOSIGNAL: into a connection the peer reset it raises SIGPIPE, which
  // would kill the app. Blocked on this pool thread while it runs (the pool may have been
  // started by an app thread), and an EPIPE's pending SIGPIPE taken back before unblocking.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  ssize_t n;
  do {
    n = ::sendfile(f->link->dup_fd_, f->fd, &off, want);
  } while (n < 0 && errno == EINTR);
  f->result = n;
  f->err = n < 0 ? errno : 0;
  if (n < 0 && f->err == EPIPE) {
    struct timespec none = {0, 0};
    while (sigtimedwait(&pipe, nullptr, &none) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void UvLink::file_after(uv_work_t* req, int) {
  auto* f = static_cast<FileSend*>(req->data);
  UvLink* l = f->link;
  l->jobs_--;
  if (l->closed_) return l->maybe_free();  // ends the file send as cancelled
  if (f->result > 0) {
    f->offset += static_cast<uint64_t>(f->result);
    f->left -= static_cast<uint64_t>(f->result);
  }
  if (f->left == 0) return l->end_file(0);
  if (f->result == 0) {  // the file ended early: the frame on the wire cannot be completed
    l->end_file(UV_EIO);
    return l->lost(UV_EIO);
  }
  if (f->result < 0 && f->err != EAGAIN) {
    int rc = uv_translate_sys_error(f->err);
    l->end_file(rc);
    return l->lost(rc);
  }
  // The socket is full: go on when it has room.
  uv_poll_start(&l->poll_, UV_WRITABLE, on_writable);
}

void UvLink::on_writable(uv_poll_t* h, int status, int) {
  auto* l = static_cast<UvLink*>(h->data);
  uv_poll_stop(h);
  if (l->closed_ || !l->file_) return;
  if (status < 0) {
    l->end_file(status);
    return l->lost(status);
  }
  l->start_file_job();
}

void UvLink::end_file(int status) {
  FileSend* f = std::exchange(file_, nullptr);
  auto done = std::move(f->done);
  delete f;
  if (done) done(status);
  if (status == 0 && !closed_) drain();
}

// After close(): the link goes once libuv has closed its handles and no pool job still
// uses it; writes and file sends that never went out end as cancelled.
void UvLink::maybe_free() {
  if (!tcp_closed_ || jobs_ > 0 || pending_closes_ > 0) return;
  if (poll_open_) {
    auto* p = reinterpret_cast<uv_handle_t*>(&poll_);
    if (!uv_is_closing(p)) {
      uv_close(p, [](uv_handle_t* h) {
        auto* l = static_cast<UvLink*>(h->data);
        l->poll_open_ = false;
        l->maybe_free();
      });
    }
    return;
  }
  if (file_) end_file(UV_ECANCELED);
  while (!held_.empty()) {
    std::unique_ptr<Held> h = std::move(held_.front());
    held_.pop_front();
    if (h->done) h->done(UV_ECANCELED);
  }
  if (dup_fd_ >= 0) ::close(dup_fd_);
  delete this;
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
  if (poll_open_) uv_poll_stop(&poll_);  // a file send waiting for room ends at maybe_free
  drop_racer();
  if (race_timer_open_) {
    race_timer_open_ = false;
    pending_closes_++;
    uv_close(reinterpret_cast<uv_handle_t*>(&race_timer_), [](uv_handle_t* h) {
      auto* l = static_cast<UvLink*>(h->data);
      l->pending_closes_--;
      l->maybe_free();
    });
  }
  // While swapping, tcp_ is closing already and swap_closed finishes the close.
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!uv_is_closing(h)) uv_close(h, close_callback);
}

void UvLink::close_callback(uv_handle_t* h) {
  auto* l = static_cast<UvLink*>(h->data);
  l->tcp_closed_ = true;
  l->maybe_free();
}

}  // namespace ferry::sdk
