#include "harness/chaos/uv/control.h"

#include <cstring>
#include <sstream>

#include "harness/chaos/uv/proxy.h"

namespace ferry::chaos {
namespace {

struct ControlClient {
  uv_tcp_t tcp;
  ControlServer* server;
  std::string buf;
};

struct Reply {
  uv_write_t req;
  std::string text;
};

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char scratch[4096];
  *buf = uv_buf_init(scratch, sizeof scratch);
}

void close_client(ControlClient* c) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    auto* cc = static_cast<ControlClient*>(h->data);
    cc->server->clients.erase(&cc->tcp);
    delete cc;
  });
}

void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<ControlClient*>(s->data);
  if (n < 0) return close_client(c);
  c->buf.append(buf->base, size_t(n));
  if (c->buf.size() > 65536) return close_client(c);  // not a command line
  size_t eol;
  while ((eol = c->buf.find('\n')) != std::string::npos) {
    std::string line = c->buf.substr(0, eol);
    c->buf.erase(0, eol + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto* r = new Reply;
    r->text = c->server->execute(line) + "\n";
    uv_buf_t b = uv_buf_init(r->text.data(), unsigned(r->text.size()));
    if (uv_write(&r->req, s, &b, 1, [](uv_write_t* w, int) { delete reinterpret_cast<Reply*>(w); }) != 0)
      delete r;
  }
}

}  // namespace

bool ControlServer::listen(const std::string& host, int port, std::string& bound, std::string& err) {
  sockaddr_in addr;
  if (uv_ip4_addr(host.c_str(), port, &addr) != 0)
    return err = "control: '" + host + "' is not an IPv4 address", false;
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  int r = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, on_connection);
  if (r != 0) return err = std::string("control: ") + uv_strerror(r), false;
  int len = sizeof addr;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  char ip[32];
  uv_ip4_name(&addr, ip, sizeof ip);
  bound = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
  return true;
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<ControlServer*>(server->data);
  if (status != 0) return;
  auto* c = new ControlClient;
  c->server = self;
  uv_tcp_init(self->loop_, &c->tcp);
  c->tcp.data = c;
  self->clients.insert(&c->tcp);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) return close_client(c);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), alloc_cb, on_read);
}

void ControlServer::close() {
  if (listening_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&listener_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  std::set<uv_tcp_t*> open = clients;
  for (uv_tcp_t* t : open) close_client(static_cast<ControlClient*>(t->data));
}

std::string ControlServer::execute(const std::string& line) {
  std::istringstream in(line);
  std::string cmd, a, b, extra;
  in >> cmd >> a >> b >> extra;
  ProxyActions act;
  std::string err;
  proxy_.log("control: " + line);
  if (cmd == "stats" && a.empty()) return "ok " + proxy_.core().summary_json(now_us());
  if (cmd == "cut" && a.empty()) {
    proxy_.cut_all();
    return "ok";
  }
  if (cmd == "clear" && a.empty()) {
    if (!proxy_.core().set("clear", "true", now_us(), act, err)) return "error " + err;
  } else if (cmd == "refuse" && !a.empty() && b.empty()) {
    if (!proxy_.core().set("refuse_ms", a, now_us(), act, err)) return "error " + err;
  } else if (cmd == "set" && !b.empty() && extra.empty()) {
    if (!proxy_.core().set(a, b, now_us(), act, err)) return "error " + err;
  } else {
    return "error usage: set KEY VALUE | cut | refuse MS | clear | stats";
  }
  proxy_.apply(act);
  return "ok";
}

}  // namespace ferry::chaos
