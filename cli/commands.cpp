// register, login, send, history, logout: each opens a Session, makes its request and waits for
// the events that settle it. (listen: listen.cpp; media: send_file.cpp, uploads_cmd.cpp.)
#include "cli/commands.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "cli/output.h"
#include "cli/session.h"

namespace ferry::cli {
namespace {

constexpr uint64_t kDefaultTimeoutS = 30;

std::string unreachable(const Session& s) {
  std::string why = s.offline_reason().empty() ? "" : " (" + s.offline_reason() + ")";
  return "cannot reach the server at " + s.server() + why;
}

// Waits for the AUTH event answering `rid` (the SDK fails it after 30 s offline).
int finish_auth(Session& s, uint64_t rid, const std::string& user, const char* done) {
  for (;;) {
    EventPtr ev = s.next(std::nullopt);
    if (ev->type != FERRY_EVENT_AUTH || ev->request_id != rid) continue;
    if (ev->status == FERRY_OK) {
      std::printf("%s %s (user id %llu)\n", done, ev->u.auth.user,
                  static_cast<unsigned long long>(ev->u.auth.user_id));
      return 0;
    }
    if (ev->status == FERRY_ENOTCONN)
      print_error(unreachable(s));
    else
      print_error(user + ": " + ferry_strerror(ev->status));
    return 1;
  }
}

int credentials(const Args& args, bool is_register) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  const std::string& user = args.positional[0];
  const std::string& password = args.positional[1];
  uint64_t rid = 0;
  int rc = is_register ? ferry_register(s->client(), user.c_str(), password.c_str(), &rid)
                       : ferry_login(s->client(), user.c_str(), password.c_str(), &rid);
  if (rc != FERRY_OK) {
    print_error(ferry_strerror(rc));
    return 1;
  }
  return finish_auth(*s, rid, user, is_register ? "registered and logged in as" : "logged in as");
}

}  // namespace

int cmd_register(const Args& args) { return credentials(args, true); }
int cmd_login(const Args& args) { return credentials(args, false); }

int cmd_send(const Args& args) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  char local_id[FERRY_LOCAL_ID_SIZE];
  int rc = ferry_send_text(s->client(), args.positional[0].c_str(), args.positional[1].c_str(),
                           local_id);
  if (rc == FERRY_ENOTAUTH) {
    require_session(*s);  // explains how to log in
    return 1;
  }
  if (rc != FERRY_OK) {
    print_error(std::string("cannot send: ") + ferry_strerror(rc));
    return 1;
  }
  Deadline deadline = deadline_after_s(args.timeout_s.value_or(kDefaultTimeoutS));
  while (EventPtr ev = s->next(deadline)) {
    if (ev->type == FERRY_EVENT_AUTH && ev->request_id == 0 && ev->status != FERRY_OK) {
      print_error(
          "the stored session was rejected: log in again with `ferry login`; the "
          "message stays queued in the outbox");
      return 1;
    }
    if (ev->type != FERRY_EVENT_MESSAGE_STATUS || std::strcmp(ev->u.message.local_id, local_id))
      continue;
    if (ev->u.message.status == FERRY_MSG_SENT) {
      std::printf("sent [%llu] to %s\n", static_cast<unsigned long long>(ev->u.message.id),
                  ev->u.message.to);
      return 0;
    }
    std::string detail = *ev->detail ? std::string(" (") + ev->detail + ")" : "";
    print_error("not sent to " + args.positional[0] + ": " + ferry_strerror(ev->status) + detail);
    return 1;
  }
  print_error(unreachable(*s) + "; the message stays queued in the outbox in " + s->state_dir() +
              " and goes out with the next ferry command that connects");
  return 1;
}

int cmd_history(const Args& args) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  if (!require_session(*s)) return 1;
  uint64_t rid = 0;
  const std::string& peer = args.positional[0];
  int rc = ferry_history(s->client(), peer.c_str(), args.before.value_or(0),
                         static_cast<uint32_t>(args.limit.value_or(50)), &rid);
  if (rc != FERRY_OK) {
    print_error(std::string("history: ") + ferry_strerror(rc));
    return 1;
  }
  for (;;) {
    EventPtr ev = s->next(std::nullopt);
    if (ev->type != FERRY_EVENT_HISTORY || ev->request_id != rid) continue;
    if (ev->status == FERRY_ENOTCONN) {
      print_error(unreachable(*s));
      return 1;
    }
    if (ev->status != FERRY_OK) {
      print_error("history with " + peer + ": " + ferry_strerror(ev->status));
      return 1;
    }
    for (size_t i = 0; i < ev->u.history.count; i++) {
      print_message(ev->u.history.messages[i], args.json);
    }
    if (ev->u.history.more && !args.json && ev->u.history.count > 0) {
      std::printf("(older messages: ferry history %s --before %llu)\n", peer.c_str(),
                  static_cast<unsigned long long>(ev->u.history.messages[0].id));
    }
    return 0;
  }
}

int cmd_logout(const Args& args) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  char user[64];
  if (ferry_client_user(s->client(), user, sizeof user) != FERRY_OK) {
    std::printf("not logged in\n");
    return 0;
  }
  // Give the client a moment to come online so the server revokes the token too; offline,
  // the session is only forgotten locally.
  Deadline deadline = deadline_after_s(3);
  while (!s->online()) {
    if (!s->next(deadline)) break;
  }
  bool revoked = s->online();
  if (ferry_logout(s->client()) != FERRY_OK) {
    print_error("cannot clear the session in " + s->state_dir());
    return 1;
  }
  std::printf("logged out %s%s\n", user, revoked ? "" : " (locally: the server was unreachable)");
  return 0;
}

}  // namespace ferry::cli
