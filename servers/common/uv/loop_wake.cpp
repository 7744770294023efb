// LoopWake (see loop_wake.h).
#include "servers/common/uv/loop_wake.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace ferry::server {

int LoopWake::start(uv_loop_t* loop, std::function<void()> on_wake) {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) return -errno;
  on_wake_ = std::move(on_wake);
  int rc = uv_poll_init(loop, &poll_, fd_);
  if (rc != 0) {
    ::close(fd_);
    fd_ = -1;
    return rc;
  }
  poll_.data = this;
  polling_ = true;
  return uv_poll_start(&poll_, UV_READABLE, on_readable);
}

void LoopWake::notify() {
  uint64_t one = 1;
  // Cannot fail short of a bad fd; a full counter (2^64 - 2 wakes unread) only means the
  // loop is already awake.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void LoopWake::on_readable(uv_poll_t* h, int, int) {
  auto* w = static_cast<LoopWake*>(h->data);
  uint64_t value = 0;
  // Reset before the callback: a notify() after this read is seen next time round.
  [[maybe_unused]] ssize_t n = ::read(w->fd_, &value, sizeof value);
  w->on_wake_();
}

void LoopWake::close() {
  if (!polling_) return;
  polling_ = false;
  // The fd is closed once libuv has let go of the handle.
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* h) {
    auto* w = static_cast<LoopWake*>(h->data);
    ::close(w->fd_);
    w->fd_ = -1;
  });
}

}  // namespace ferry::server
