#include "sdk/api/event_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>

namespace ferry::sdk {

EventQueue::~EventQueue() {
  for (ferry_event_t* e : queue_) std::free(e);
  if (fd_ >= 0) ::close(fd_);
}

int EventQueue::init() {
  fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return fd_ >= 0 ? 0 : -errno;
}

void EventQueue::push(ferry_event_t* e) {
  std::vector<ferry_event_t*> one{e};
  push_all(one);
}

void EventQueue::push_all(std::vector<ferry_event_t*>& batch) {
  if (batch.empty()) return;
  bool wake_waiters;
  {
    std::lock_guard lock(mu_);
    bool was_empty = queue_.empty();
    queue_.insert(queue_.end(), batch.begin(), batch.end());
    if (was_empty) {
      uint64_t one = 1;
      // Cannot fail short of a bad fd: the counter never nears its limit (reset on drain).
      [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
    }
    wake_waiters = waiters_ > 0;
  }
  batch.clear();
  if (wake_waiters) cv_.notify_all();
}

int EventQueue::pop(ferry_event_t** out, int timeout_ms) {
  std::unique_lock lock(mu_);
  if (queue_.empty()) {
    // timeout 0 (the epoll/eventfd style) never touches the condvar: no futex call.
    if (timeout_ms == 0) return FERRY_ETIMEDOUT;
    auto ready = [this] { return !queue_.empty(); };
    waiters_++;
    bool got = true;
    if (timeout_ms < 0) {
      cv_.wait(lock, ready);
    } else {
      got = cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
    }
    waiters_--;
    if (!got) return FERRY_ETIMEDOUT;
  }
  *out = queue_.front();
  queue_.pop_front();
  if (queue_.empty()) {
    uint64_t value;
    [[maybe_unused]] ssize_t n = ::read(fd_, &value, sizeof value);
  }
  return FERRY_OK;
}

}  // namespace ferry::sdk
