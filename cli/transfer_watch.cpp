#include "cli/transfer_watch.h"

#include <signal.h>

namespace ferry::cli {
namespace {

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

// How long the chat server may stay unreachable before following gives up (the transfer
// stays pending either way).
constexpr auto kOfflineLimit = std::chrono::seconds(60);

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

TransferWatch::TransferWatch(const Args& args, Session& s, ProgressView& view)
    : s_(s), view_(view), deadline_(deadline_after_s(args.timeout_s)),
      timeout_s_(args.timeout_s) {}

std::optional<StopReason> TransferWatch::check() {
  if (g_interrupted) return StopReason{"interrupted", 130};
  if (deadline_ && Clock::now() >= *deadline_)
    return StopReason{"timed out after " + std::to_string(*timeout_s_) + " s", 1};
  if (online_)
    offline_since_.reset();
  else if (!offline_since_)
    offline_since_ = Clock::now();
  if (offline_since_ && Clock::now() - *offline_since_ > kOfflineLimit)
    return StopReason{"cannot reach the server at " + s_.server() +
                          (last_offline_.empty() ? "" : " (" + last_offline_ + ")"),
                      1};
  return std::nullopt;
}

std::optional<StopReason> TransferWatch::on_event(const ferry_event_t& ev,
                                                  const std::string& online_tag) {
  switch (ev.type) {
    case FERRY_EVENT_AUTH:
      if (ev.request_id != 0 || ev.status == FERRY_OK) break;
      return StopReason{std::string("the stored session was rejected (") +
                            ferry_strerror(ev.status) + "): log in again with `ferry login`",
                        1};
    case FERRY_EVENT_CONNECTION:
      online_ = ev.u.connection.state == FERRY_CONN_ONLINE;
      if (online_) {
        view_.set_tag(online_tag);
        last_offline_.clear();
      } else if (ev.u.connection.state == FERRY_CONN_OFFLINE) {
        std::string why = s_.offline_reason().empty() ? "offline" : s_.offline_reason();
        view_.set_tag("offline, retrying");
        if (why != last_offline_) view_.note("offline: " + why + "; retrying");
        last_offline_ = why;
      }
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace ferry::cli
