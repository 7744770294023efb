// `ferry listen`: prints incoming messages as they arrive and, for media messages, the
// sender's upload progress and status changes as their own lines. --count N stops after N
// messages; with --until-ready, once N of the media messages it received are READY.
#include <cstdio>
#include <map>
#include <string>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/output.h"
#include "cli/session.h"

namespace ferry::cli {
namespace {

// What listen remembers of a media message it printed, to name it in later lines.
struct MediaSeen {
  std::string from, to, name, local_id;
  uint64_t size = 0;
  int status = 0;
};

class Listener {
 public:
  Listener(const Args& args, std::string me) : args_(args), me_(std::move(me)) {}

  // Handles one event; returns 1 to stop with failure, 0 to go on.
  int handle(const ferry_event_t& ev, Session& s);
  bool done() const {
    if (!args_.count && !args_.until_ready) return false;
    uint64_t want = args_.count.value_or(1);
    return args_.until_ready ? ready_ >= want : received_ >= want;
  }
  std::string shortfall() const {
    uint64_t want = args_.count.value_or(1);
    if (args_.until_ready)
      return std::to_string(ready_) + " of " + std::to_string(want) + " media messages READY";
    return std::to_string(received_) + " of " + std::to_string(want) + " messages";
  }

 private:
  void on_message(const ferry_message_t& m);
  void on_status(const ferry_event_t& ev);
  void on_progress(const ferry_event_t& ev);

  const Args& args_;
  std::string me_;
  uint64_t received_ = 0;
  uint64_t ready_ = 0;
  std::map<uint64_t, MediaSeen> media_;
  std::string last_reported_;
};

void Listener::on_message(const ferry_message_t& m) {
  // Incoming only: the user's own sends from other clients (another `ferry send`) are not
  // news to them. Notes to self are both, so they count.
  if (me_ == or_empty(m.from) && me_ != or_empty(m.to)) return;
  print_message(m, args_.json);
  received_++;
  if (!m.media) return;
  MediaSeen& seen = media_[m.id];
  bool was_ready = seen.status == FERRY_MSG_READY;
  seen = {or_empty(m.from),     or_empty(m.to), or_empty(m.media->name),
          or_empty(m.local_id), m.media->size,  m.status};
  if (m.status == FERRY_MSG_READY && !was_ready) ready_++;
}

void Listener::on_status(const ferry_event_t& ev) {
  const ferry_message_t& m = ev.u.message;
  auto it = media_.find(m.id);
  bool media_status = m.status == FERRY_MSG_UPLOADING || m.status == FERRY_MSG_READY ||
                      m.status == FERRY_MSG_CANCELLED;
  // A text message's status (this client's outbox going out) is not listen's news.
  if (!m.media && it == media_.end() && !media_status) return;
  if (args_.json) {
    cJSON* j = make_status_json(m.local_id, m.id, m.status, ev.status, ev.detail);
    if (m.from) cJSON_AddStringToObject(j, "from", m.from);
    if (m.to) cJSON_AddStringToObject(j, "to", m.to);
    print_json_line(j);
  } else {
    std::string name = m.media              ? or_empty(m.media->name)
                       : it != media_.end() ? it->second.name
                                            : "media message";
    std::string why = ev.status != FERRY_OK
                          ? std::string(" (") + ferry_strerror(ev.status) +
                                (*ev.detail ? std::string(": ") + ev.detail : "") + ")"
                          : "";
    std::printf("[%llu] %s: %s%s\n", static_cast<unsigned long long>(m.id), name.c_str(),
                status_name(m.status), why.c_str());
    std::fflush(stdout);
  }
  if (it == media_.end()) return;
  if (m.status == FERRY_MSG_READY && it->second.status != FERRY_MSG_READY) ready_++;
  it->second.status = m.status;
}

void Listener::on_progress(const ferry_event_t& ev) {
  const auto& p = ev.u.progress;
  if (args_.json) {
    cJSON* j = make_progress_json(p.local_id, p.message_id, p.done, p.total, -1);
    if (p.outgoing) cJSON_AddBoolToObject(j, "outgoing", 1);
    print_json_line(j);
    return;
  }
  auto it = media_.find(p.message_id);
  std::string name = it != media_.end() ? it->second.name : or_empty(p.local_id);
  unsigned pct = p.total ? unsigned(double(p.done) * 100.0 / double(p.total)) : 100;
  std::printf("[%llu] %s: %s %u%% (%s of %s)\n", static_cast<unsigned long long>(p.message_id),
              name.c_str(), p.outgoing ? "sending" : "uploading", pct, format_bytes(p.done).c_str(),
              format_bytes(p.total).c_str());
  std::fflush(stdout);
}

int Listener::handle(const ferry_event_t& ev, Session& s) {
  switch (ev.type) {
    case FERRY_EVENT_MESSAGE:
      on_message(ev.u.message);
      break;
    case FERRY_EVENT_MESSAGE_STATUS:
      on_status(ev);
      break;
    case FERRY_EVENT_UPLOAD_PROGRESS:
      on_progress(ev);
      break;
    case FERRY_EVENT_AUTH:
      if (ev.status == FERRY_OK) break;
      print_error(std::string("cannot log in with the stored session: ") +
                  ferry_strerror(ev.status) + "; run `ferry login`");
      return 1;
    case FERRY_EVENT_CONNECTION:
      if (ev.u.connection.state == FERRY_CONN_OFFLINE && !s.offline_reason().empty() &&
          s.offline_reason() != last_reported_) {
        last_reported_ = s.offline_reason();
        print_error("offline: " + last_reported_ + "; retrying");
      }
      break;
    default:
      break;
  }
  return 0;
}

}  // namespace

int cmd_listen(const Args& args) {
  auto s = Session::open(args, true);
  if (!s) return 1;
  std::string me;
  if (!require_session(*s, &me)) return 1;
  Deadline deadline = deadline_after_s(args.timeout_s);
  Listener listener(args, me);
  while (!listener.done()) {
    EventPtr ev = s->next(deadline);
    if (!ev) break;
    if (listener.handle(*ev, *s) != 0) return 1;
  }
  if ((args.count || args.until_ready) && !listener.done()) {
    print_error("timed out after " + listener.shortfall());
    return 1;
  }
  return 0;
}

}  // namespace ferry::cli
