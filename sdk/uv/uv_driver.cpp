#include "sdk/uv/uv_driver.h"

#include "sdk/include/ferry.h"

namespace ferry::sdk {

UvDriver::UvDriver(std::shared_ptr<UvLoop> loop, ClientCore& core, std::string host,
                   std::string port, DriverHooks hooks)
    : loop_(std::move(loop)),
      uv_(loop_->loop()),
      core_(core),
      host_(std::move(host)),
      port_(std::move(port)),
      hooks_(std::move(hooks)) {}

UvDriver::~UvDriver() { stop(); }

int UvDriver::start() {
  bool ok = true;
  loop_->call([this, &ok] {
    try {
      init_on_loop();
    } catch (...) {
      ok = false;  // std::bad_alloc: nothing was started
      return;
    }
    core_.start(now());
    step();
  });
  if (!ok) return FERRY_ENOMEM;
  started_ = true;
  return 0;
}

void UvDriver::init_on_loop() {
  auto io = std::make_shared<UploadIo>(uv_, core_.uploads(), [this] { step(); });
  auto downloads = std::make_shared<DownloadIo>(
      uv_, core_.downloads(), std::string("ferry-sdk/") + FERRY_VERSION_STRING, [this] { step(); });
  uv_timer_init(uv_, &timer_);
  uv_timer_init(uv_, &stop_guard_);
  timer_.data = stop_guard_.data = this;
  open_handles_ = 2;
  io_ = std::move(io);
  downloads_ = std::move(downloads);
}

void UvDriver::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  loop_->post([this] {
    // Commands queued before the stop still run (a logout, a last send), as they always did.
    on_commands();
    begin_stop();
  });
  std::unique_lock lock(closed_mu_);
  closed_cv_.wait(lock, [this] { return closed_; });
}

uint64_t UvDriver::now() {
  uv_update_time(uv_);
  return uv_now(uv_);
}

void UvDriver::on_commands() {
  if (stopping_) return;
  hooks_.run_commands(now());
  step();
}

void UvDriver::publish() { hooks_.publish_events(); }

// Polls both cores until neither has anything more to do, then re-arms the timer and asks
// the loop to publish events at the end of this iteration (with every other client's).
// Callbacks that arrive while a step runs (none should, but UvLink hooks fed synchronously
// would) only mark it to run again.
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
  loop_->publish_later(this);
  std::optional<uint64_t> at = core_.poll_timeout();
  if (!at) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t t = now();
  uv_timer_start(&timer_, timer_callback, *at > t ? *at - t : 0, 0);
}

void UvDriver::flush() {
  core_.take_send(send_buf_);
  if (!send_buf_.empty() && chat_) chat_->write_copy(send_buf_);
  // Keep a buffer the size of a burst of chat frames, not of a large one-off (a big request).
  if (send_buf_.capacity() > 256 * 1024) std::string().swap(send_buf_);
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
      // The chat server's path predicts the resource server's when both share a host.
      if (chat_) core_.on_chat_path(chat_->peer_ip(), chat_->tcp_rtt_us());
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
  chat_ = UvLink::dial(uv_, host_, port_, std::move(hooks), err, detail);
  if (!chat_) core_.on_connect_failed(err, detail, now());
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
  loop_->cancel_publish(this);
  hooks_.publish_events();
  stopping_ = true;
  io_->stop();
  downloads_->stop();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), close_callback);
  if (chat_ && chat_->shutdown([this] { finish_stop(); })) {
    uv_timer_start(&stop_guard_, stop_guard_callback, 500, 0);
    return;
  }
  finish_stop();
}

void UvDriver::finish_stop() {
  close_chat();
  auto* g = reinterpret_cast<uv_handle_t*>(&stop_guard_);
  if (!uv_is_closing(g)) uv_close(g, close_callback);
}

void UvDriver::stop_guard_callback(uv_timer_t* h) {
  static_cast<UvDriver*>(h->data)->finish_stop();
}

void UvDriver::close_callback(uv_handle_t* h) { static_cast<UvDriver*>(h->data)->handle_closed(); }

// Both handles are closed: nothing of this driver's can run on the loop any more except file
// work already queued by UploadIo / DownloadIo, which the loop keeps alive until it is done.
// Handles those two closed in the same iteration finish in the same pass; the loop frees the
// retired objects in a later iteration.
void UvDriver::handle_closed() {
  if (--open_handles_ > 0) return;
  loop_->retire(io_);
  loop_->retire(downloads_);
  std::lock_guard lock(closed_mu_);
  closed_ = true;
  closed_cv_.notify_one();
}

}  // namespace ferry::sdk
