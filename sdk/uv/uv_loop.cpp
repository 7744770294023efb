#include "sdk/uv/uv_loop.h"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>

namespace ferry::sdk {

int UvLoop::start() {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) return rc;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    rc = -errno;
    uv_loop_close(&loop_);
    return rc;
  }
  // An eventfd watched by uv_poll rather than uv_async, whose receiving side spins (then
  // sched_yield()s) while a sender is between its write and its flag update.
  uv_poll_init(&loop_, &wake_poll_, wake_fd_);
  uv_poll_start(&wake_poll_, UV_READABLE, wake_callback);
  // Check handles run right after the I/O callbacks of an iteration: every read of the
  // iteration has been fed to its core by then.
  uv_check_init(&loop_, &check_);
  uv_check_start(&check_, check_callback);
  wake_poll_.data = check_.data = this;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    ::close(wake_fd_);
    wake_fd_ = -1;
    return -EAGAIN;
  }
  return 0;
}

UvLoop::~UvLoop() {
  if (!thread_.joinable()) {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    return;
  }
  post([this] {
    quit_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  });
  thread_.join();
  ::close(wake_fd_);
}

void UvLoop::run() {
  // A write to a connection the peer reset raises SIGPIPE, whose default kills the process;
  // libuv leaves that to the app, and a library must not change the app's signal handling.
  // Blocked on ferry's own thread (and so on libuv's pool threads it starts from here), the
  // write just fails with EPIPE. The send_file job blocks it itself too (uv_link.cpp).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // uv_run returns only with no request in flight: whatever was retired can go now.
  retired_.clear();
  uv_loop_close(&loop_);
}

void UvLoop::enqueue(Entry e) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = entries_.empty();
    entries_.push_back(std::move(e));
  }
  if (was_empty) {
    uint64_t one = 1;
    // Cannot fail short of a bad fd: the loop resets the counter on every wake.
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

void UvLoop::wake(LoopClient* c) { enqueue(Entry{c, {}}); }

void UvLoop::post(std::function<void()> fn) { enqueue(Entry{nullptr, std::move(fn)}); }

void UvLoop::call(std::function<void()> fn) {
  if (on_loop_thread()) return fn();  // no app code runs here, but never deadlock
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post([&] {
    fn();
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

void UvLoop::wake_callback(uv_poll_t* h, int, int) {
  auto* l = static_cast<UvLoop*>(h->data);
  uint64_t value;
  // Reset before taking the queue: a wake written after this read is seen next time round.
  [[maybe_unused]] ssize_t n = ::read(l->wake_fd_, &value, sizeof value);
  {
    std::lock_guard lock(l->mu_);
    l->batch_.swap(l->entries_);
  }
  for (Entry& e : l->batch_) {
    if (e.client) {
      e.client->on_commands();
    } else {
      e.fn();
    }
  }
  l->batch_.clear();
}

void UvLoop::publish_later(LoopClient* c) {
  if (c->publish_queued) return;
  c->publish_queued = true;
  publish_.push_back(c);
}

void UvLoop::cancel_publish(LoopClient* c) {
  if (!c->publish_queued) return;
  c->publish_queued = false;
  publish_.erase(std::remove(publish_.begin(), publish_.end(), c), publish_.end());
}

void UvLoop::check_callback(uv_check_t* h) {
  auto* l = static_cast<UvLoop*>(h->data);
  // Swapped out first: a publish never queues another, but stay safe if one ever does.
  l->publishing_.swap(l->publish_);
  for (LoopClient* c : l->publishing_) {
    c->publish_queued = false;
    c->publish();
  }
  l->publishing_.clear();
  if (!l->retired_.empty() && l->loop_.active_reqs.count == 0) l->retired_.clear();
}

void UvLoop::retire(std::shared_ptr<void> o) { retired_.push_back(std::move(o)); }

}  // namespace ferry::sdk
