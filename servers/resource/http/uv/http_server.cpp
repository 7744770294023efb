// libuv adapter of the HTTP download listener (see http_server.h for the feature list).
#include "servers/resource/http/uv/http_server.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <unordered_set>
#include <vector>

#include "servers/common/uv/address.h"
#include "servers/common/uv/signals.h"
#include "servers/resource/http/core/parser.h"
#include "servers/resource/http/core/router.h"
#include "servers/resource/store/file_lookup.h"

namespace ferry::resource::http {

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
// One sendfile round asks for this much; a non-blocking socket takes what its send buffer
// holds, so this only caps one pool job's work.
constexpr uint64_t kSendfileRound = 8u << 20;
constexpr int64_t kLingerMs = 2000;

struct Conn;

}  // namespace

class HttpServer {
 public:
  uv_loop_t* loop = nullptr;
  HttpOptions options;
  server::LoopClock clock;
  uv_tcp_t listener;
  std::string bound;
  bool stopping = false;
  std::unordered_set<Conn*> conns;
  char read_buffer[kReadBufferBytes];

  int64_t now() const { return clock.now(); }
};

namespace {

struct WriteReq {
  uv_write_t req;
  Conn* conn;
  std::string data;
};

// One HTTP connection. Freed once its handles are closed and no pool job refers to it.
struct Conn {
  uv_tcp_t tcp;  // first member: the handle pointer is the Conn pointer
  HttpServer* server = nullptr;
  uv_timer_t timer;  // idle timeout, then the linger deadline
  uv_poll_t poll;    // POLLOUT on out_fd while a sendfile round waits for room
  uv_fs_t fs;        // the file operation in flight (open, fstat)
  uv_work_t work;    // or the sendfile round in flight (never both: fs_busy covers either)
  ssize_t sf_result = 0;
  int sf_errno = 0;
  int handles_open = 0;
  bool fs_busy = false;
  bool poll_ready = false;
  bool reading = false;
  bool closing = false;    // uv_close called on the handles
  bool finishing = false;  // the last response is going out; then FIN and linger
  bool shut_down = false;
  bool peer_eof = false;  // the client sent FIN: no more requests will come
  int out_fd = -1;        // dup() of the socket, for sendfile and the poll

  RequestParser parser;
  bool busy = false;  // a request is being answered
  Request request;
  proto::TicketClaims claims;
  Response response;
  uv_file file = -1;
  uint64_t sent = 0;   // body bytes sent of response.length
  uint64_t round = 0;  // bytes asked in the current sendfile round
};

void next(Conn& c);
void close_conn(Conn& c);

void maybe_free(Conn& c) {
  if (c.handles_open > 0 || c.fs_busy) return;
  if (c.file >= 0) close(c.file);
  if (c.out_fd >= 0) close(c.out_fd);
  c.server->conns.erase(&c);
  delete &c;
}

void on_handle_closed(uv_handle_t* h) {
  Conn& c = *static_cast<Conn*>(h->data);
  c.handles_open--;
  maybe_free(c);
}

void close_conn(Conn& c) {
  if (c.closing) return;
  c.closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), on_handle_closed);
  if (c.poll_ready) uv_close(reinterpret_cast<uv_handle_t*>(&c.poll), on_handle_closed);
}

void touch(Conn& c) {
  if (c.closing || c.finishing) return;
  uv_timer_start(
      &c.timer, [](uv_timer_t* t) { close_conn(*static_cast<Conn*>(t->data)); },
      static_cast<uint64_t>(c.server->options.idle_timeout_ms), 0);
}

void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Conn& c = *static_cast<Conn*>(h->data);
  *buf = uv_buf_init(c.server->read_buffer, sizeof c.server->read_buffer);
}

void set_reading(Conn& c, bool on);

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn& c = *static_cast<Conn*>(s->data);
  if (nread == UV_EOF && !c.finishing) {
    // A client may half-close after its last request (shutdown(SHUT_WR)): answer what it
    // asked, then close.
    c.peer_eof = true;
    set_reading(c, false);
    return next(c);
  }
  if (nread < 0) return close_conn(c);    // an error, or EOF while lingering
  if (nread == 0 || c.finishing) return;  // lingering: the peer's bytes are discarded
  touch(c);
  c.parser.feed(buf->base, static_cast<size_t>(nread));
  next(c);
}

void set_reading(Conn& c, bool on) {
  if (c.closing || c.reading == on) return;
  if (on) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c.tcp), on_alloc, on_read);
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
  }
  c.reading = on;
}

void on_shutdown(uv_shutdown_t* req, int status) {
  Conn& c = *static_cast<Conn*>(req->data);
  delete req;
  if (status < 0) close_conn(c);
}

// The last response is written: FIN, then read (and drop) until the peer's EOF or 2 s.
void linger(Conn& c) {
  if (c.closing || c.shut_down) return;
  c.shut_down = true;
  auto* req = new uv_shutdown_t{};
  req->data = &c;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c.tcp), on_shutdown) != 0) {
    delete req;
    return close_conn(c);
  }
  uv_timer_start(
      &c.timer, [](uv_timer_t* t) { close_conn(*static_cast<Conn*>(t->data)); }, kLingerMs, 0);
  set_reading(c, true);
}

void finish_response(Conn& c) {
  if (c.file >= 0) {
    close(c.file);
    c.file = -1;
  }
  c.busy = false;
  if (c.response.close) {
    c.finishing = true;
    return linger(c);
  }
  next(c);
}

void start_body(Conn& c);

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  Conn& c = *w->conn;
  delete w;
  if (c.closing) return;
  if (status < 0) return close_conn(c);
  touch(c);
  if (c.response.length > 0) return start_body(c);
  finish_response(c);
}

void send_response(Conn& c, Response r) {
  c.response = std::move(r);
  c.sent = 0;
  auto* w = new WriteReq{};
  w->conn = &c;
  w->data = c.response.head + c.response.body;
  c.response.body.clear();
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, on_write) != 0) {
    delete w;
    close_conn(c);
  }
}

// ---- body: sendfile rounds on the pool, POLLOUT waits on the loop ----

void sendfile_round(Conn& c);

void on_writable(uv_poll_t* p, int status, int) {
  Conn& c = *static_cast<Conn*>(p->data);
  uv_poll_stop(p);
  if (c.closing) return;
  if (status < 0) return close_conn(c);
  sendfile_round(c);
}

// Thread pool: one sendfile(2) from the file to the dup'd non-blocking socket. It returns a
// short count or EAGAIN as soon as the socket's send buffer is full, so it never waits for
// the peer. (Not uv_fs_sendfile: see http_server.h.)
void sendfile_work(uv_work_t* w) {
  Conn& c = *static_cast<Conn*>(w->data);
  off_t off = static_cast<off_t>(c.response.offset + c.sent);
  ssize_t r = sendfile(c.out_fd, c.file, &off, static_cast<size_t>(c.round));
  c.sf_errno = r < 0 ? errno : 0;
  c.sf_result = r;
}

void after_sendfile(uv_work_t* w, int status) {
  Conn& c = *static_cast<Conn*>(w->data);
  c.fs_busy = false;
  if (c.closing) return maybe_free(c);
  ssize_t r = c.sf_result;
  bool would_block = r < 0 && (c.sf_errno == EAGAIN || c.sf_errno == EWOULDBLOCK);
  if (status < 0 || (r < 0 && !would_block)) return close_conn(c);  // EPIPE, ECONNRESET, EIO
  if (r == 0) {
    // The file ended early (changed under us): the promised length cannot be kept.
    fprintf(stderr, "ferry-resd: http: stored file shorter than expected; closing\n");
    return close_conn(c);
  }
  if (r > 0) {
    c.sent += static_cast<uint64_t>(r);
    touch(c);
  }
  if (c.sent >= c.response.length) return finish_response(c);
  if (would_block || static_cast<uint64_t>(r) < c.round) {
    // The socket's send buffer is full: wait until the peer reads.
    uv_poll_start(&c.poll, UV_WRITABLE, on_writable);
    return;
  }
  sendfile_round(c);
}

void sendfile_round(Conn& c) {
  c.round = std::min(kSendfileRound, c.response.length - c.sent);
  c.work.data = &c;
  if (uv_queue_work(c.server->loop, &c.work, sendfile_work, after_sendfile) != 0) {
    return close_conn(c);
  }
  c.fs_busy = true;
}

void start_body(Conn& c) {
  if (c.out_fd < 0) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c.tcp), &fd) != 0) return close_conn(c);
    c.out_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (c.out_fd < 0) return close_conn(c);
    if (uv_poll_init_socket(c.server->loop, &c.poll, c.out_fd) != 0) return close_conn(c);
    c.poll.data = &c;
    c.poll_ready = true;
    c.handles_open++;
  }
  sendfile_round(c);
}

// ---- file lookup: open + fstat on the pool ----

void on_stat(uv_fs_t* req) {
  Conn& c = *static_cast<Conn*>(req->data);
  c.fs_busy = false;
  FileInfo info;
  if (req->result == 0 && S_ISREG(req->statbuf.st_mode)) {
    info.found = true;
    info.size = req->statbuf.st_size;
    info.mtime_s = static_cast<int64_t>(req->statbuf.st_mtim.tv_sec);
  }
  uv_fs_req_cleanup(req);
  if (c.closing) return maybe_free(c);
  Response r = respond_file(c.request, c.claims, info, c.server->now());
  if (r.length == 0 && c.file >= 0) {
    close(c.file);
    c.file = -1;
  }
  send_response(c, std::move(r));
}

void on_open(uv_fs_t* req) {
  Conn& c = *static_cast<Conn*>(req->data);
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  c.fs_busy = false;
  if (r >= 0) c.file = static_cast<uv_file>(r);
  if (c.closing) return maybe_free(c);
  if (r < 0) {
    if (r == UV_ENOENT || r == UV_ENOTDIR) {
      return send_response(c, respond_file(c.request, c.claims, FileInfo{}, c.server->now()));
    }
    fprintf(stderr, "ferry-resd: http: cannot open a stored file: %s\n",
            uv_strerror(static_cast<int>(r)));
    return send_response(
        c, error_response(&c.request, 500, "the stored file cannot be read", c.server->now()));
  }
  c.fs.data = &c;
  if (uv_fs_fstat(c.server->loop, &c.fs, c.file, on_stat) != 0) return close_conn(c);
  c.fs_busy = true;
}

void handle(Conn& c) {
  Decision d = route(c.request, c.server->options.key, c.server->now());
  if (!d.lookup) return send_response(c, std::move(d.response));
  c.claims = std::move(d.claims);
  std::string path = stored_file_path(c.server->options.data_dir, c.claims.sha256_hex);
  if (path.empty()) {
    return send_response(c, respond_file(c.request, c.claims, FileInfo{}, c.server->now()));
  }
  c.fs.data = &c;
  if (uv_fs_open(c.server->loop, &c.fs, path.c_str(), O_RDONLY | O_CLOEXEC, 0, on_open) != 0) {
    return close_conn(c);
  }
  c.fs_busy = true;
}

// Answers the next queued request, the parser's error, or closes a finished stream.
void next(Conn& c) {
  if (c.closing || c.finishing) return;
  if (!c.busy) {
    if (c.parser.pop(c.request)) {
      c.busy = true;
      handle(c);
    } else if (int status = c.parser.error_status()) {
      c.busy = true;
      send_response(
          c, error_response(nullptr, status, c.parser.error_message(), c.server->now(), true));
    } else if (c.parser.stopped()) {
      c.finishing = true;
      linger(c);
      return;
    } else if (c.peer_eof) {
      return close_conn(c);  // everything it asked is answered
    }
  }
  if (!c.closing && !c.finishing && !c.peer_eof) set_reading(c, c.parser.wants_input());
}

void on_connection(uv_stream_t* listener, int status) {
  HttpServer& s = *static_cast<HttpServer*>(listener->data);
  if (status < 0 || s.stopping) return;
  auto* c = new Conn{};
  c->server = &s;
  uv_tcp_init(s.loop, &c->tcp);
  c->tcp.data = c;
  c->handles_open = 1;
  s.conns.insert(c);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_handle_closed);
    return;
  }
  uv_timer_init(s.loop, &c->timer);
  c->timer.data = c;
  c->handles_open++;
  uv_tcp_nodelay(&c->tcp, 1);  // the head goes out at once; bodies are large writes anyway
  touch(*c);
  set_reading(*c, true);
}

}  // namespace

void http_server_delete(HttpServer* server) { delete server; }

HttpServerPtr http_server_bind(uv_loop_t* loop, const HttpOptions& options, std::string& bound,
                               std::string& err, int& exit_status) {
  HttpServerPtr s(new HttpServer);
  s->loop = loop;
  s->options = options;
  s->clock.anchor(loop);
  sockaddr_storage addr{};
  server::AddressRules rules;
  rules.what = "--http";
  if (!server::parse_address(options.listen, addr, rules, err)) {
    exit_status = 2;
    return nullptr;
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s.get();
  int rc = uv_tcp_bind(&s->listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  // Bind errors (EADDRINUSE) are reported by uv_listen on some kernels: listen at once.
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 1024, on_connection);
  }
  if (rc != 0) {
    err = "cannot listen on " + options.listen + " (--http): " + uv_strerror(rc);
    exit_status = 1;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
    return nullptr;
  }
  // Listening already (so a taken port fails here, before anything runs), but unreferenced
  // until http_server_start: if the upload listener then fails, the loop must not wait on us.
  uv_unref(reinterpret_cast<uv_handle_t*>(&s->listener));
  sockaddr_storage real{};
  int len = sizeof real;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&real), &len);
  s->bound = bound = server::describe_address(real);
  return s;
}

bool http_server_start(HttpServer& s) {
  uv_ref(reinterpret_cast<uv_handle_t*>(&s.listener));
  printf("http listening on %s\n", s.bound.c_str());
  fflush(stdout);
  fprintf(stderr, "ferry-resd: http listening on %s\n", s.bound.c_str());
  return true;
}

void http_server_stop(HttpServer& s) {
  if (s.stopping) return;
  s.stopping = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&s.listener), nullptr);
  std::vector<Conn*> all(s.conns.begin(), s.conns.end());
  for (Conn* c : all) close_conn(*c);
}

}  // namespace ferry::resource::http
