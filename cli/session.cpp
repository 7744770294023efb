#include "cli/session.h"

#include "cli/output.h"

namespace ferry::cli {

Deadline deadline_after_s(std::optional<uint64_t> seconds) {
  if (!seconds) return std::nullopt;
  return Clock::now() + std::chrono::seconds(*seconds);
}

std::unique_ptr<Session> Session::open(const Args& args, bool receive) {
  std::unique_ptr<Session> s(new Session());
  s->server_ = args.server;
  s->state_dir_ = resolve_state_dir(args);
  if (s->state_dir_.empty()) {
    print_error("no state directory: set HOME or pass --state DIR");
    return nullptr;
  }
  ferry_options_t* opts = ferry_options_new();
  if (!opts) {
    print_error("out of memory");
    return nullptr;
  }
  int rc = ferry_options_set_server(opts, args.server.c_str());
  if (rc != FERRY_OK) {
    ferry_options_destroy(opts);
    print_error("bad --server '" + args.server + "': expected HOST:PORT");
    return nullptr;
  }
  ferry_options_set_state_dir(opts, s->state_dir_.c_str());
  ferry_options_set_receive(opts, receive ? 1 : 0);
  // A person is waiting: retry a refused connection quickly instead of backing off to 10 s.
  ferry_options_set_reconnect(opts, 200, 2000);
  if (args.connections) {
    ferry_options_set_upload_connections(opts, static_cast<uint32_t>(*args.connections));
  }
  rc = ferry_client_new(opts, &s->client_);
  ferry_options_destroy(opts);
  if (rc != FERRY_OK) {
    print_error("cannot start the client (state directory " + s->state_dir_ +
                "): " + ferry_strerror(rc));
    return nullptr;
  }
  return s;
}

Session::~Session() { ferry_client_destroy(client_); }

EventPtr Session::next(const Deadline& deadline) {
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) return nullptr;
      wait_ms = left.count() > 1000000 ? 1000000 : static_cast<int>(left.count());
    }
    ferry_event_t* raw = nullptr;
    if (ferry_poll_event(client_, &raw, wait_ms) != FERRY_OK) continue;
    EventPtr ev(raw);
    if (ev->type == FERRY_EVENT_CONNECTION) {
      state_ = ev->u.connection.state;
      if (state_ == FERRY_CONN_OFFLINE && ev->status != FERRY_OK) {
        offline_reason_ = *ev->detail ? ev->detail : ferry_strerror(ev->status);
      }
    }
    return ev;
  }
}

EventPtr Session::next_within(int wait_ms) {
  return next(Clock::now() + std::chrono::milliseconds(wait_ms));
}

bool require_session(Session& s, std::string* user) {
  char name[64];
  if (ferry_client_user(s.client(), name, sizeof name) == FERRY_OK) {
    if (user) *user = name;
    return true;
  }
  print_error("not logged in: run `ferry login USER PASSWORD` (or `ferry register`) first");
  return false;
}

}  // namespace ferry::cli
