#include "gui/platform/fd_waker.h"

#include <GLFW/glfw3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace ferry::gui {

FdWaker::FdWaker(int fd) : fd_(fd) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

FdWaker::~FdWaker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  uint64_t one = 1;
  if (stop_fd_ >= 0 && write(stop_fd_, &one, sizeof one) < 0) {
    // The eventfd cannot be full with one write; nothing else to do.
  }
  thread_.join();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void FdWaker::ack() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked_ = true;
  }
  cv_.notify_all();
}

void FdWaker::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return acked_ || stopping_; });
      if (stopping_) return;
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int n = poll(fds, 2, -1);
    if (n < 0) continue;  // EINTR
    if (fds[1].revents) return;
    if (fds[0].revents) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        acked_ = false;
      }
      glfwPostEmptyEvent();  // documented as callable from any thread
    }
  }
}

}  // namespace ferry::gui
