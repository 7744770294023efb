// `ferry listen`: prints incoming messages as they arrive and, for media messages, the
// sender's upload progress and status changes as their own lines. --count N stops after N
// messages; with --until-ready, once N of the media messages it received are READY.
// --download-dir DIR saves each incoming media file once it is READY (ferry_download), as
// DIR/<id>-<safe name>; with --until-ready it then counts saved files instead.
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
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

// The sender's display name as a file name: never a path (no '/', no leading dots, no
// control characters), at most 200 bytes, prefixed with the message id so two files of the
// same name never collide.
std::string safe_file_name(uint64_t id, const std::string& display) {
  std::string out;
  for (unsigned char c : display) {
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
      out += '_';
    else
      out += char(c);
  }
  size_t start = out.find_first_not_of('.');
  out = start == std::string::npos ? "" : out.substr(start);
  if (out.size() > 200) {
    out.resize(200);
    // Do not leave half a UTF-8 sequence at the end.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
  }
  if (out.empty()) out = "file";
  return std::to_string(id) + "-" + out;
}

class Listener {
 public:
  Listener(const Args& args, std::string me, ferry_client_t* client)
      : args_(args), me_(std::move(me)), client_(client) {}

  // Handles one event; returns 1 to stop with failure, 0 to go on.
  int handle(const ferry_event_t& ev, Session& s);
  bool done() const {
    if (!args_.count && !args_.until_ready) return false;
    uint64_t want = args_.count.value_or(1);
    if (args_.until_ready && args_.download_dir) return saved_ >= want;
    return args_.until_ready ? ready_ >= want : received_ >= want;
  }
  std::string shortfall() const {
    uint64_t want = args_.count.value_or(1);
    if (args_.until_ready && args_.download_dir)
      return std::to_string(saved_) + " of " + std::to_string(want) + " media files saved";
    if (args_.until_ready)
      return std::to_string(ready_) + " of " + std::to_string(want) + " media messages READY";
    return std::to_string(received_) + " of " + std::to_string(want) + " messages";
  }

 private:
  void on_message(const ferry_message_t& m);
  void on_status(const ferry_event_t& ev);
  void on_progress(const ferry_event_t& ev);
  void save(uint64_t id, const std::string& name);
  int on_download(const ferry_event_t& ev);

  const Args& args_;
  std::string me_;
  ferry_client_t* client_;
  uint64_t received_ = 0;
  uint64_t ready_ = 0;
  uint64_t saved_ = 0;
  std::set<uint64_t> downloading_;
  std::map<uint64_t, int> download_decile_;
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
  if (m.status == FERRY_MSG_READY && !was_ready) {
    ready_++;
    save(m.id, seen.name);
  }
}

void Listener::save(uint64_t id, const std::string& name) {
  if (!args_.download_dir || downloading_.count(id)) return;
  std::error_code ec;
  std::filesystem::create_directories(*args_.download_dir, ec);
  std::string path = *args_.download_dir + "/" + safe_file_name(id, name);
  int rc = ferry_download(client_, id, path.c_str());
  if (rc != FERRY_OK) {
    print_error("cannot save message " + std::to_string(id) + " to " + path + ": " +
                ferry_strerror(rc));
    return;
  }
  downloading_.insert(id);
}

// Downloads this listen started, and pending ones of the state directory it resumed.
int Listener::on_download(const ferry_event_t& ev) {
  const auto& d = ev.u.download;
  if (ev.type == FERRY_EVENT_DOWNLOAD_PROGRESS) {
    if (args_.json) {
      cJSON* j = make_progress_json("", d.message_id, d.done, d.total, -1);
      cJSON_ReplaceItemInObject(j, "type", cJSON_CreateString("download_progress"));
      cJSON_AddStringToObject(j, "path", or_empty(d.path));
      print_json_line(j);
      return 0;
    }
    int decile = d.total ? int(double(d.done) * 10.0 / double(d.total)) : 10;
    auto [it, fresh] = download_decile_.try_emplace(d.message_id, -1);
    if (decile == it->second) return 0;
    it->second = decile;
    (void)fresh;
    std::printf("[%llu] saving %d%% (%s of %s)\n", static_cast<unsigned long long>(d.message_id),
                decile * 10, format_bytes(d.done).c_str(), format_bytes(d.total).c_str());
    std::fflush(stdout);
    return 0;
  }
  bool final = d.state == FERRY_DOWNLOAD_DONE || d.state == FERRY_DOWNLOAD_FAILED ||
               d.state == FERRY_DOWNLOAD_CANCELLED;
  if (args_.json && (final || d.state == FERRY_DOWNLOAD_RETRYING)) {
    static const char* names[] = {"?",         "FETCHING", "RETRYING", "PAUSED",
                                  "VERIFYING", "DONE",     "FAILED",   "CANCELLED"};
    cJSON* j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "download");
    cJSON_AddNumberToObject(j, "message_id", double(d.message_id));
    cJSON_AddStringToObject(j, "status", d.state >= 1 && d.state <= 7 ? names[d.state] : "?");
    cJSON_AddStringToObject(j, "path", or_empty(d.path));
    cJSON_AddNumberToObject(j, "size", double(d.total));
    if (ev.status != FERRY_OK) {
      cJSON_AddStringToObject(j, "error", ferry_err_name(ev.status));
      cJSON_AddStringToObject(j, "detail", or_empty(ev.detail));
    }
    print_json_line(j);
  } else if (!args_.json && d.state == FERRY_DOWNLOAD_DONE) {
    std::printf("[%llu] saved %s (%s, SHA-256 verified)\n",
                static_cast<unsigned long long>(d.message_id), or_empty(d.path),
                format_bytes(d.total).c_str());
    std::fflush(stdout);
  } else if (!args_.json && (final || d.state == FERRY_DOWNLOAD_RETRYING)) {
    std::string why = ev.status != FERRY_OK ? ferry_strerror(ev.status) : "";
    if (*ev.detail) why += std::string(why.empty() ? "" : ": ") + ev.detail;
    print_error("saving message " + std::to_string(d.message_id) + ": " +
                (d.state == FERRY_DOWNLOAD_RETRYING ? "retrying" : "failed") +
                (why.empty() ? "" : " (" + why + ")"));
  }
  if (d.state == FERRY_DOWNLOAD_DONE) saved_++;
  return 0;
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
    // A file sent "hash later" was announced without its hash; READY brings it.
    if (m.media && m.media->sha256 && *m.media->sha256) {
      cJSON_AddStringToObject(j, "sha256", m.media->sha256);
    }
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
  bool incoming = !(me_ == it->second.from && me_ != it->second.to);
  if (m.status == FERRY_MSG_READY && it->second.status != FERRY_MSG_READY) {
    ready_++;
    if (incoming) save(m.id, it->second.name);
  }
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
    case FERRY_EVENT_DOWNLOAD_PROGRESS:
    case FERRY_EVENT_DOWNLOAD_STATUS:
      return on_download(ev);
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
  Listener listener(args, me, s->client());
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
