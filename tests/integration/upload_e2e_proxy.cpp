// The relay of upload_e2e_proxy.h: one thread, poll(), non-blocking sockets, a token bucket
// on the client → resd direction.
#include "tests/integration/upload_e2e_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace ferry::test {
namespace {

struct Pair {
  int c = -1, s = -1;
  std::string up, down;  // bytes read and not yet written: c → s, s → c
  bool dead = false;
};

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int connect_local(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (port <= 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  set_nonblocking(fd);
  return fd;
}

// Moves bytes from `from` into `buf` (at most `max`); false on EOF or error.
bool read_into(int from, std::string& buf, size_t max) {
  char tmp[262144];
  ssize_t n = read(from, tmp, std::min(max, sizeof tmp));
  if (n > 0) buf.append(tmp, size_t(n));
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

// send(MSG_NOSIGNAL), not write(): a peer killed by the test (kill -9 of resd) must give
// EPIPE here, not a SIGPIPE that kills the whole test process.
bool write_from(int to, std::string& buf) {
  ssize_t n = send(to, buf.data(), buf.size(), MSG_NOSIGNAL);
  if (n > 0) buf.erase(0, size_t(n));
  return n >= 0 || errno == EAGAIN || errno == EINTR;
}

}  // namespace

UploadProxy::UploadProxy() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::abort();
  port_ = ntohs(a.sin_port);
  set_nonblocking(listen_fd_);
  thread_ = std::thread([this] { loop(); });
}

UploadProxy::~UploadProxy() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void UploadProxy::loop() {
  using Clock = std::chrono::steady_clock;
  std::vector<std::unique_ptr<Pair>> pairs;
  int seen_cut = cut_generation_;
  double tokens = 0;
  auto last = Clock::now();
  while (!stop_) {
    auto now = Clock::now();
    uint64_t rate = rate_;
    double dt = std::chrono::duration<double>(now - last).count();
    last = now;
    // Burst of at most 20 ms worth (and one read), so a throttled stream stays smooth.
    tokens =
        rate ? std::min(tokens + dt * double(rate), std::max(double(rate) / 50, 65536.0)) : 1e18;
    if (cut_generation_ != seen_cut) {
      seen_cut = cut_generation_;
      for (auto& p : pairs) p->dead = true;
    }
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    bool can_up = !held_ && tokens >= 1;
    for (auto& p : pairs) {
      short cev = short((p->up.empty() && can_up ? POLLIN : 0) | (!p->down.empty() ? POLLOUT : 0));
      short sev = short((p->down.empty() ? POLLIN : 0) | (!p->up.empty() ? POLLOUT : 0));
      fds.push_back({p->c, cev, 0});
      fds.push_back({p->s, sev, 0});
    }
    poll(fds.data(), fds.size(), rate || held_ ? 5 : 50);
    if (fds[0].revents & POLLIN) {
      int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) {
        accepted_++;
        int s = connect_local(target_port_);
        if (s < 0) {
          close(c);  // resd is down: the client sees the connection close and retries
        } else {
          auto p = std::make_unique<Pair>();
          p->c = c;
          p->s = s;
          pairs.push_back(std::move(p));
        }
      }
    }
    for (size_t i = 0; i < pairs.size() && 1 + 2 * i + 1 < fds.size(); i++) {
      Pair& p = *pairs[i];
      short cre = fds[1 + 2 * i].revents, sre = fds[2 + 2 * i].revents;
      if (cre & POLLIN) {
        size_t before = p.up.size();
        size_t max = rate ? size_t(std::max(1.0, tokens)) : SIZE_MAX;
        if (!read_into(p.c, p.up, max)) p.dead = true;
        tokens -= double(p.up.size() - before);
      } else if (cre & (POLLERR | POLLHUP)) {
        p.dead = true;
      }
      if ((sre & POLLOUT) && !p.up.empty()) {
        size_t before = p.up.size();
        if (!write_from(p.s, p.up)) p.dead = true;
        upstream_bytes_ += before - p.up.size();
      }
      if (sre & POLLIN) {
        if (!read_into(p.s, p.down, SIZE_MAX)) p.dead = true;
      } else if (sre & (POLLERR | POLLHUP)) {
        p.dead = true;
      }
      if ((cre & POLLOUT) && !p.down.empty() && !write_from(p.c, p.down)) p.dead = true;
    }
    for (auto& p : pairs) {
      if (!p->dead) continue;
      close(p->c);
      close(p->s);
    }
    std::erase_if(pairs, [](const std::unique_ptr<Pair>& p) { return p->dead; });
    open_ = int(pairs.size());
  }
  for (auto& p : pairs) {
    close(p->c);
    close(p->s);
  }
}

}  // namespace ferry::test
