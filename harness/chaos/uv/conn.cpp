#include "harness/chaos/uv/conn.h"

#include <algorithm>
#include <deque>
#include <memory>

namespace ferry::chaos {

namespace {

// Reads stop on a direction while more than this waits for delivery (delays and the rate cap
// would otherwise buffer a whole upload in the proxy) and resume below the low mark.
constexpr size_t kHighWater = 4u << 20;
constexpr size_t kLowWater = 1u << 20;

struct WriteReq {
  uv_write_t req;
  std::string bytes;
  Conn* conn;
};

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) {
  // One loop thread: every read is consumed (copied by the core) before the next alloc.
  static char scratch[64 * 1024];
  *buf = uv_buf_init(scratch, sizeof scratch);
}

}  // namespace

// One proxied connection. sock[0] is the client (read Up, write Down); sock[1] the upstream.
struct Conn {
  Proxy* proxy;
  std::unique_ptr<ConnCore> core;
  uv_tcp_t sock[2];
  uv_timer_t timer;
  uv_connect_t connect_req;
  uv_shutdown_t shutdown_req[2];
  bool upstream_ready = false;
  std::deque<Emit> pending[2];  // by direction
  size_t pending_bytes[2] = {0, 0};
  bool eof[2] = {false, false};  // the source of this direction sent FIN
  bool shut[2] = {false, false};  // the destination's write side was shut down
  bool shut_done[2] = {false, false};
  bool reading[2] = {false, false};
  bool cutting = false;
  uint64_t cut_at = 0;
  bool closing = false;
  int open_handles = 0;

  static Conn* of(const void* h) { return static_cast<Conn*>(static_cast<const uv_handle_t*>(h)->data); }
  uv_tcp_t& source(int d) { return sock[d]; }
  uv_tcp_t& dest(int d) { return sock[1 - d]; }
  bool dest_ready(int d) { return d == 0 ? upstream_ready : true; }

  void start(uv_stream_t* server) {
    uv_tcp_init(proxy->loop(), &sock[0]);
    uv_tcp_init(proxy->loop(), &sock[1]);
    uv_timer_init(proxy->loop(), &timer);
    sock[0].data = sock[1].data = timer.data = this;
    open_handles = 3;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&sock[0])) != 0) return close(false);
    uv_tcp_nodelay(&sock[0], 1);
    connect_req.data = this;
    int r = uv_tcp_connect(&connect_req, &sock[1], reinterpret_cast<const sockaddr*>(&proxy->upstream_),
                           on_connect);
    if (r != 0) return upstream_failed(r);
    start_reading(0);
  }

  void upstream_failed(int status) {
    proxy->core().stats().upstream_failed++;
    proxy->log("conn " + std::to_string(core->ordinal()) + ": upstream connect failed: " +
               uv_strerror(status) + " (resetting the client)");
    close(true);
  }

  static void on_connect(uv_connect_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->data);
    if (c->closing) return;
    if (status != 0) return c->upstream_failed(status);
    c->upstream_ready = true;
    uv_tcp_nodelay(&c->sock[1], 1);
    c->start_reading(1);
    c->pump();
  }

  void start_reading(int d) {
    if (reading[d] || eof[d] || closing) return;
    reading[d] = true;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&source(d)), alloc_cb, on_read);
  }
  void stop_reading(int d) {
    if (!reading[d]) return;
    reading[d] = false;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&source(d)));
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    Conn* c = of(s);
    if (c->closing) return;
    int d = (s == reinterpret_cast<uv_stream_t*>(&c->sock[0])) ? 0 : 1;
    if (n > 0) {
      ConnOutput out;
      c->core->on_bytes(Dir(d), now_us(), buf->base, size_t(n), out);
      c->apply(out);
    } else if (n == UV_EOF) {
      c->eof[d] = true;
      c->stop_reading(d);
      c->pump();
    } else if (n < 0) {
      // A reset or error on one side is passed on as a reset to the other.
      c->close(true);
    }
  }

  void apply(ConnOutput& out) {
    for (const std::string& l : out.log) proxy->log(l);
    for (Emit& e : out.emits) {
      int d = int(e.dir);
      pending_bytes[d] += e.bytes.size();
      pending[d].push_back(std::move(e));
    }
    if (out.cut && !cutting) {
      cutting = true;
      cut_at = out.cut_at_us;
    }
    pump();
  }

  void write(int d, std::string bytes) {
    auto* w = new WriteReq;
    w->bytes = std::move(bytes);
    w->conn = this;
    uv_buf_t b = uv_buf_init(w->bytes.data(), unsigned(w->bytes.size()));
    int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&dest(d)), &b, 1, on_write);
    if (r != 0) {
      delete w;
      close(true);
    }
  }

  static void on_write(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    Conn* c = w->conn;
    delete w;
    if (c->closing) return;
    if (status != 0) return c->close(true);
    c->pump();
  }

  size_t queued(int d) {
    return pending_bytes[d] + reinterpret_cast<uv_stream_t*>(&dest(d))->write_queue_size;
  }

  void pump() {
    if (closing) return;
    uint64_t now = now_us();
    for (int d = 0; d < 2; d++) {
      auto& q = pending[d];
      while (dest_ready(d) && !q.empty() && q.front().at_us <= now &&
             (!cutting || q.front().at_us <= cut_at)) {
        pending_bytes[d] -= q.front().bytes.size();
        std::string bytes = std::move(q.front().bytes);
        q.pop_front();
        write(d, std::move(bytes));
        if (closing) return;
      }
    }
    if (cutting && now >= cut_at) {
      proxy->log("conn " + std::to_string(core->ordinal()) + ": RST both sides");
      return close(true);
    }
    for (int d = 0; d < 2; d++) {
      // Flow control: a direction with too much waiting stops reading its source.
      if (queued(d) > kHighWater) stop_reading(d);
      else if (queued(d) < kLowWater && (d == 0 || upstream_ready)) start_reading(d);
      // A FIN is passed on once everything before it is delivered — unless the direction is
      // blackholed: a half-open connection never tells the other side.
      if (eof[d] && !shut[d] && pending[d].empty() && dest_ready(d) && !core->blackholed(Dir(d)) &&
          core->next_timer_us() == UINT64_MAX) {
        shut[d] = true;
        shutdown_req[d].data = this;
        if (uv_shutdown(&shutdown_req[d], reinterpret_cast<uv_stream_t*>(&dest(d)), on_shutdown) != 0)
          return close(false);
      }
    }
    if (eof[0] && eof[1] && pending[0].empty() && pending[1].empty() &&
        (shut_done[0] || core->blackholed(Dir::Up)) && (shut_done[1] || core->blackholed(Dir::Down)))
      return close(false);
    arm_timer(now);
  }

  static void on_shutdown(uv_shutdown_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->data);
    if (c->closing) return;
    if (status != 0) return c->close(true);
    c->shut_done[req == &c->shutdown_req[0] ? 0 : 1] = true;
    c->pump();
  }

  void arm_timer(uint64_t now) {
    uint64_t next = core->next_timer_us();
    for (int d = 0; d < 2; d++)
      if (dest_ready(d) && !pending[d].empty()) next = std::min(next, pending[d].front().at_us);
    if (cutting) next = std::min(next, cut_at);
    if (next == UINT64_MAX) {
      uv_timer_stop(&timer);
      return;
    }
    uint64_t ms = next > now ? (next - now + 999) / 1000 : 0;
    uv_timer_start(&timer, on_timer, ms, 0);
  }

  static void on_timer(uv_timer_t* t) {
    Conn* c = of(t);
    if (c->closing) return;
    ConnOutput out;
    c->core->on_timer(now_us(), out);
    c->apply(out);
  }

  // reset: close with SO_LINGER 0 so the peers see RST, not FIN.
  void close(bool reset) {
    if (closing) return;
    closing = true;
    for (uv_tcp_t& s : sock) {
      auto* h = reinterpret_cast<uv_handle_t*>(&s);
      if (uv_is_closing(h)) continue;
      if (!reset || uv_tcp_close_reset(&s, on_close) != 0) uv_close(h, on_close);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
  }

  static void on_close(uv_handle_t* h) {
    Conn* c = of(h);
    if (--c->open_handles == 0) {
      c->proxy->conns_.erase(c);
      delete c;
    }
  }
};

void start_conn(Proxy* proxy, std::unique_ptr<ConnCore> core, uv_stream_t* server) {
  auto* c = new Conn;
  c->proxy = proxy;
  c->core = std::move(core);
  proxy->conns_.insert(c);
  c->start(server);
}

void reset_conn(Conn* c) { c->close(true); }

void cut_conn(Conn* c) {
  if (c->closing) return;
  ConnOutput out;
  c->core->cut_now(now_us(), out);
  c->apply(out);
}

}  // namespace ferry::chaos
