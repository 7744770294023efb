// What `send-file` and `download` both do while they follow one transfer to its end: stop on
// Ctrl-C / SIGTERM (the transfer stays pending, to be resumed by running the command again),
// on --timeout, or after a minute without the chat server; show the connection state on the
// progress view; and give up when the stored session is rejected. Each command keeps its own
// events and its own "stays pending" message.
#pragma once

#include <optional>
#include <string>

#include "cli/args.h"
#include "cli/progress.h"
#include "cli/session.h"

namespace ferry::cli {

// Why following stopped: a sentence for the user and the exit status.
struct StopReason {
  std::string why;
  int status = 1;
};

// Sets the SIGINT/SIGTERM handlers that TransferWatch::check() reads (they only set a flag).
// Commands install them first thing, so an early Ctrl-C also ends them through check().
void install_interrupt_handlers();

class TransferWatch {
 public:
  static constexpr int kTickMs = 200;  // longest wait for an event between checks

  TransferWatch(const Args& args, Session& s, ProgressView& view);

  // Before each wait for an event: a reason to stop, or nullopt.
  std::optional<StopReason> check();
  // AUTH and CONNECTION events (others are ignored). `online_tag` is what the progress view
  // shows while online (e.g. "paused").
  std::optional<StopReason> on_event(const ferry_event_t& ev, const std::string& online_tag);

 private:
  Session& s_;
  ProgressView& view_;
  Deadline deadline_;
  std::optional<uint64_t> timeout_s_;
  bool online_ = false;
  std::string last_offline_;
  std::optional<Clock::time_point> offline_since_;  // unset while online
};

}  // namespace ferry::cli
