// A ferry client for one CLI command: creates it from the global options, hands out events
// until a deadline, and remembers why the connection is down so failures can say so.
#pragma once

#include <ferry.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "cli/args.h"

namespace ferry::cli {

struct EventFree {
  void operator()(ferry_event_t* e) const { ferry_event_free(e); }
};
using EventPtr = std::unique_ptr<ferry_event_t, EventFree>;
using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;  // nullopt = wait forever

Deadline deadline_after_s(std::optional<uint64_t> seconds);

class Session {
 public:
  // Returns null after printing why (bad --server, unusable state directory).
  // receive = false for commands that must not consume incoming messages.
  static std::unique_ptr<Session> open(const Args& args, bool receive);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ferry_client_t* client() const { return client_; }
  const std::string& server() const { return server_; }
  const std::string& state_dir() const { return state_dir_; }
  // The next event, or null when the deadline passed. Tracks the connection state.
  EventPtr next(const Deadline& deadline);
  // The next event, waiting at most wait_ms (so the caller can check signals and timers).
  EventPtr next_within(int wait_ms);
  bool online() const { return state_ == FERRY_CONN_ONLINE; }
  // "connection refused" etc.: the last reason the client was offline, or "".
  const std::string& offline_reason() const { return offline_reason_; }

 private:
  Session() = default;
  ferry_client_t* client_ = nullptr;
  std::string server_;
  std::string state_dir_;
  int state_ = FERRY_CONN_CONNECTING;
  std::string offline_reason_;
};

// Fills `user` with the logged-in name; false (explained on stderr) when there is no session.
bool require_session(Session& s, std::string* user = nullptr);

}  // namespace ferry::cli
