// The TUN-to-TUN pump of ferry-link (see forwarder.h).
#include "harness/link/uv/forwarder.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ferry::link {

uint64_t monotonic_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

Forwarder::Forwarder(uv_loop_t* loop, int tun_a, int tun_b, LinkCore& a_to_b, LinkCore& b_to_a)
    : loop_(loop), fd_{tun_a, tun_b}, core_{&a_to_b, &b_to_a}, buf_(VnetHdr::kSize + 65536) {}

Forwarder::~Forwarder() {
  // The handles must be closed (close() and the loop run) before the forwarder goes away.
  if (open_handles_ != 0) std::abort();
  if (timer_fd_ >= 0) ::close(timer_fd_);
}

int Forwarder::start() {
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return uv_translate_sys_error(errno);
  for (int i = 0; i < 2; i++) {
    int rc = uv_poll_init(loop_, &poll_[i], fd_[i]);
    if (rc != 0) return rc;
    open_handles_++;
    poll_[i].data = this;
    if ((rc = uv_poll_start(&poll_[i], UV_READABLE, on_tun)) != 0) return rc;
  }
  int rc = uv_poll_init(loop_, &timer_poll_, timer_fd_);
  if (rc != 0) return rc;
  open_handles_++;
  timer_poll_.data = this;
  return uv_poll_start(&timer_poll_, UV_READABLE, on_timer);
}

void Forwarder::close(std::function<void()> done) {
  closed_ = std::move(done);
  if (open_handles_ == 0) {
    if (closed_) closed_();
    return;
  }
  // Only the handles start() got to initialise are open: poll_[0], poll_[1], then the timer.
  int n = open_handles_;
  for (int i = 0; i < 2 && n > 0; i++, n--)
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_[i]), on_closed);
  if (n > 0) uv_close(reinterpret_cast<uv_handle_t*>(&timer_poll_), on_closed);
}

void Forwarder::on_closed(uv_handle_t* h) {
  auto* self = static_cast<Forwarder*>(h->data);
  if (--self->open_handles_ == 0 && self->closed_) self->closed_();
}

void Forwarder::on_tun(uv_poll_t* h, int status, int) {
  auto* self = static_cast<Forwarder*>(h->data);
  if (status < 0) {
    std::fprintf(stderr, "ferry-link: poll on a TUN fd: %s\n", uv_strerror(status));
    return;
  }
  int side = h == &self->poll_[0] ? 0 : 1;
  self->read_side(self->fd_[side], *self->core_[side]);
  self->pump();
}

void Forwarder::on_timer(uv_poll_t* h, int, int) {
  auto* self = static_cast<Forwarder*>(h->data);
  uint64_t expirations;
  if (read(self->timer_fd_, &expirations, sizeof expirations) < 0) { /* EAGAIN: spurious */
  }
  self->armed_us_ = UINT64_MAX;
  self->pump();
}

void Forwarder::read_side(int from_fd, LinkCore& core) {
  for (int i = 0; i < kReadBatch; i++) {
    ssize_t n = read(from_fd, buf_.data(), buf_.size());
    if (n <= 0) break;  // EAGAIN: drained. EINTR or an error: try again on the next wake-up.
    if (size_t(n) <= VnetHdr::kSize) continue;
    VnetHdr h = VnetHdr::read(buf_.data());
    uint8_t* pkt = buf_.data() + VnetHdr::kSize;
    size_t len = size_t(n) - VnetHdr::kSize;
    uint64_t now = monotonic_us();
    // A TSO super-packet becomes the segments the wire would carry, each with its own fate.
    if ((h.gso_type & ~VnetHdr::kGsoEcn) == VnetHdr::kGsoTcpv4 &&
        split_tcp4(pkt, len, h.gso_size,
                   [&](const uint8_t* seg, size_t size) { core.recv(now, seg, size); })) {
      continue;
    }
    complete_checksum(h, pkt, len);
    core.recv(now, pkt, len);
  }
}

void Forwarder::release(LinkCore& core, int to_fd, uint64_t& write_errors, uint64_t now) {
  // Segments released together are written as one super-packet where they join up.
  auto flush = [&] {
    joiner_.take(out_);
    // A TUN write hands the packet to the kernel's receive path and does not block; it fails
    // only for a malformed packet or a device going away.
    if (write(to_fd, out_.data(), out_.size()) != ssize_t(out_.size())) write_errors++;
  };
  while (core.poll_send(now, seg_)) {
    if (!joiner_.add(seg_.data(), seg_.size())) {
      flush();
      joiner_.add(seg_.data(), seg_.size());
    }
  }
  if (!joiner_.empty()) flush();
}

void Forwarder::pump() {
  uint64_t now = monotonic_us();
  release(*core_[0], fd_[1], write_errors_[0], now);
  release(*core_[1], fd_[0], write_errors_[1], now);
  arm_timer();
}

void Forwarder::arm_timer() {
  uint64_t next = std::min(core_[0]->poll_timeout(), core_[1]->poll_timeout());
  if (next == armed_us_) return;
  struct itimerspec spec = {};
  if (next != UINT64_MAX) {
    // An absolute time already past fires at once, which is what a due packet needs.
    spec.it_value.tv_sec = time_t(next / 1000000);
    spec.it_value.tv_nsec = long(next % 1000000) * 1000;
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  if (timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) == 0) armed_us_ = next;
}

}  // namespace ferry::link
