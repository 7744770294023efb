#include "sdk/uv/uv_driver.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "sdk/include/ferry.h"

namespace ferry::sdk {

UvDriver::UvDriver(ClientCore& core, std::string host, std::string port, DriverHooks hooks)
    : core_(core), host_(std::move(host)), port_(std::move(port)), hooks_(std::move(hooks)) {}

UvDriver::~UvDriver() {
  // run() closes the loop; a driver that was initialised but never run closes it here.
  if (initialized_) {
    if (downloads_) downloads_->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_poll_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_guard_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    downloads_.reset();
    uv_loop_close(&loop_);
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

int UvDriver::init() {
  int rc = uv_loop_init(&loop_);
  if (rc != 0) return rc;
  loop_.data = this;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    rc = -errno;
    uv_loop_close(&loop_);
    return rc;
  }
  uv_async_init(&loop_, &async_, async_callback);
  uv_poll_init(&loop_, &wake_poll_, wake_fd_);
  uv_poll_start(&wake_poll_, UV_READABLE, wake_callback);
  uv_timer_init(&loop_, &timer_);
  uv_timer_init(&loop_, &stop_guard_);
  async_.data = wake_poll_.data = timer_.data = stop_guard_.data = this;
  io_ = std::make_unique<UploadIo>(&loop_, core_.uploads(), [this] { step(); });
  downloads_ = std::make_unique<DownloadIo>(&loop_, core_.downloads(),
                                            std::string("ferry-sdk/") + FERRY_VERSION_STRING,
                                            [this] { step(); });
  initialized_ = true;
  return 0;
}

void UvDriver::wake() {
  uint64_t one = 1;
  // Cannot fail short of a bad fd: the loop resets the counter on every wake.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void UvDriver::request_stop() {
  stop_requested_ = true;
  uv_async_send(&async_);
}

uint64_t UvDriver::now() {
  uv_update_time(&loop_);
  return uv_now(&loop_);
}

void UvDriver::run() {
  core_.start(now());
  step();
  uv_run(&loop_, UV_RUN_DEFAULT);
  io_.reset();
  downloads_.reset();
  uv_loop_close(&loop_);
  initialized_ = false;
}

// Polls both cores until neither has anything more to do, then publishes events and re-arms
// the timer. Callbacks that arrive while a step runs (none should, but UvLink hooks fed
// synchronously would) only mark it to run again.
void UvDriver::step() {
  if (stopping_) return;
  if (in_step_) {
    step_again_ = true;
    return;
  }
  in_step_ = true;
  do {
    step_again_ = false;
    uint64_t t = now();
    core_.pump_uploads(t);
    core_.pump_downloads(t);
    flush();
    if (core_.poll_close() && chat_) close_chat();
    if (core_.poll_connect()) {
      start_connect();
      step_again_ = true;
    }
    if (io_->step(t)) step_again_ = true;
    if (downloads_->step(t)) step_again_ = true;
  } while (step_again_ && !stopping_);
  in_step_ = false;
  hooks_.publish_events();
  std::optional<uint64_t> at = core_.poll_timeout();
  if (!at) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t t = now();
  uv_timer_start(&timer_, timer_callback, *at > t ? *at - t : 0, 0);
}

void UvDriver::flush() {
  std::string out = core_.poll_send();
  if (!out.empty() && chat_) chat_->write(std::move(out));
}

void UvDriver::close_chat() {
  if (chat_) chat_->close();
  chat_ = nullptr;
}

void UvDriver::start_connect() {
  close_chat();
  LinkHooks hooks;
  hooks.on_connect = [this](int status, const std::string& detail) {
    if (status == 0) {
      core_.on_connected(now());
    } else {
      chat_ = nullptr;
      core_.on_connect_failed(status, detail, now());
    }
    step();
  };
  hooks.on_read = [this](const char* data, size_t len) {
    if (stopping_) return;
    core_.on_bytes(data, len, now());
    step();
  };
  hooks.on_lost = [this](int err, const std::string& detail) {
    chat_ = nullptr;
    if (stopping_) return;
    core_.on_disconnected(err, detail, now());
    step();
  };
  int err = 0;
  std::string detail;
  chat_ = UvLink::dial(&loop_, host_, port_, std::move(hooks), err, detail);
  if (!chat_) core_.on_connect_failed(err, detail, now());
}

void UvDriver::async_callback(uv_async_t* h) {
  auto* d = static_cast<UvDriver*>(h->data);
  if (d->stopping_) return;
  d->hooks_.run_commands(d->now());
  if (d->stop_requested_) return d->begin_stop();
  d->step();
}

void UvDriver::wake_callback(uv_poll_t* h, int, int) {
  auto* d = static_cast<UvDriver*>(h->data);
  uint64_t value;
  // Reset before taking the queue: a wake written after this read is seen next time round.
  [[maybe_unused]] ssize_t n = ::read(d->wake_fd_, &value, sizeof value);
  if (d->stopping_) return;
  d->hooks_.run_commands(d->now());
  d->step();
}

void UvDriver::timer_callback(uv_timer_t* h) {
  auto* d = static_cast<UvDriver*>(h->data);
  d->core_.handle_timeout(d->now());
  d->step();
}

void UvDriver::begin_stop() {
  // Flush what the last commands produced (a logout, a send) before closing, but never wait
  // long for a server that does not read.
  flush();
  hooks_.publish_events();
  stopping_ = true;
  io_->stop();
  downloads_->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_poll_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  if (chat_ && chat_->shutdown([this] { finish_stop(); })) {
    uv_timer_start(&stop_guard_, stop_guard_callback, 500, 0);
    return;
  }
  close_chat();
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_guard_), nullptr);
}

void UvDriver::finish_stop() {
  close_chat();
  auto* g = reinterpret_cast<uv_handle_t*>(&stop_guard_);
  if (!uv_is_closing(g)) uv_close(g, nullptr);
}

void UvDriver::stop_guard_callback(uv_timer_t* h) {
  static_cast<UvDriver*>(h->data)->finish_stop();
}

}  // namespace ferry::sdk
