#include "harness/chaos/uv/proxy.h"

#include <cstring>
#include <memory>

#include "harness/chaos/uv/conn.h"

namespace ferry::chaos {

uint64_t now_us() { return uv_hrtime() / 1000; }

namespace {

bool parse_addr(const std::string& host, int port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

std::string addr_text(const sockaddr_storage& a) {
  char host[64] = {0};
  int port = 0;
  if (a.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a);
    uv_ip6_name(s6, host, sizeof host);
    port = ntohs(s6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  auto* s4 = reinterpret_cast<const sockaddr_in*>(&a);
  uv_ip4_name(s4, host, sizeof host);
  port = ntohs(s4->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Proxy::Proxy(uv_loop_t* loop, ProxyConfig cfg, Logger log)
    : loop_(loop), core_(std::move(cfg), now_us()), log_(std::move(log)) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  uv_timer_init(loop_, &schedule_timer_);
  schedule_timer_.data = this;
  arm_schedule();
}

Proxy::~Proxy() = default;

bool Proxy::set_upstream(const std::string& host, int port, std::string& err) {
  if (!parse_addr(host, port, upstream_))
    return err = "upstream: '" + host + "' is not an IP address", false;
  return true;
}

bool Proxy::listen(const std::string& host, int port, std::string& bound, std::string& err) {
  sockaddr_storage addr;
  if (!parse_addr(host, port, addr)) return err = "listen: '" + host + "' is not an IP address", false;
  int r = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection);
  if (r != 0) return err = "listen " + host + ":" + std::to_string(port) + ": " + uv_strerror(r), false;
  int len = sizeof addr;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  bound = addr_text(addr);
  return true;
}

void Proxy::on_connection(uv_stream_t* server, int status) {
  Proxy* p = static_cast<Proxy*>(server->data);
  if (status != 0 || p->closed_) return;
  std::vector<std::string> log;
  std::unique_ptr<ConnCore> core = p->core_.accept(now_us(), log);
  for (const std::string& l : log) p->log(l);
  if (!core) {
    // Refusing: take the connection off the backlog and reset it at once.
    auto* h = new uv_tcp_t;
    uv_tcp_init(p->loop_, h);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(h)) != 0 ||
        uv_tcp_close_reset(h, [](uv_handle_t* x) { delete reinterpret_cast<uv_tcp_t*>(x); }) != 0)
      uv_close(reinterpret_cast<uv_handle_t*>(h),
               [](uv_handle_t* x) { delete reinterpret_cast<uv_tcp_t*>(x); });
    return;
  }
  start_conn(p, std::move(core), server);
}

void Proxy::arm_schedule() {
  uint64_t next = core_.next_tick_us();
  if (next == UINT64_MAX || closed_) return;
  uint64_t now = now_us();
  uv_timer_start(&schedule_timer_, on_schedule_timer, next > now ? (next - now + 999) / 1000 : 0, 0);
}

void Proxy::on_schedule_timer(uv_timer_t* t) {
  Proxy* p = static_cast<Proxy*>(t->data);
  ProxyActions act;
  p->core_.tick(now_us(), act);
  p->apply(act);
  p->arm_schedule();
}

void Proxy::apply(ProxyActions& act) {
  for (const std::string& l : act.log) log(l);
  if (act.cut_all) cut_all();
}

void Proxy::cut_all() {
  std::vector<Conn*> live(conns_.begin(), conns_.end());
  for (Conn* c : live) cut_conn(c);
}

void Proxy::close() {
  if (closed_) return;
  closed_ = true;
  std::vector<Conn*> live(conns_.begin(), conns_.end());
  for (Conn* c : live) reset_conn(c);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&schedule_timer_), nullptr);
}

}  // namespace ferry::chaos
