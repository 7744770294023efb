// `ferry send-file USER PATH`: starts (or resumes) a media upload and follows it to READY.
//
// Resume across runs: the SDK records every upload in the state directory and continues the
// pending ones by itself when a client opens that directory. So before sending, this looks
// for a pending upload to the same user from the same absolute path; if there is one it only
// follows it (saying how much the server already held) instead of sending the file again.
// Ctrl-C (SIGINT) or SIGTERM exits at once and leaves the upload pending, to be resumed by
// running the same command again.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/control.h"
#include "cli/format.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/transfer_watch.h"

namespace ferry::cli {
namespace {

// The absolute, normalized form of `path`: what the SDK records and what resume compares.
std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  if (ec) p = std::filesystem::absolute(path, ec).lexically_normal();
  return p.string();
}

struct Pending {
  std::string local_id, name;
  uint64_t message_id = 0, size = 0, done = 0;
};

// A pending upload of this state directory to `to` from `path`, if any (the one furthest
// along when several match).
std::optional<Pending> find_pending(Session& s, const std::string& to, const std::string& path) {
  ferry_upload_info_t* list = nullptr;
  size_t count = 0;
  if (ferry_uploads_list(s.client(), &list, &count) != FERRY_OK) return std::nullopt;
  std::optional<Pending> found;
  for (size_t i = 0; i < count; i++) {
    const ferry_upload_info_t& u = list[i];
    if (to != or_empty(u.to) || path != absolute_path(or_empty(u.path))) continue;
    if (found && found->done >= u.done) continue;
    found = Pending{or_empty(u.local_id), or_empty(u.name), u.message_id, u.size, u.done};
  }
  ferry_uploads_free(list, count);
  return found;
}

class Follower {
 public:
  Follower(const Args& args, Session& s, ProgressView& view, std::string local_id)
      : args_(args), s_(s), view_(view), local_id_(std::move(local_id)), watch_(args, s, view) {}
  // Returns the exit status once the upload settled, was interrupted or gave up.
  int run();
  uint64_t total = 0;
  std::string name;

 private:
  // Returns an exit status when the event settles the upload, else nullopt.
  std::optional<int> handle(const ferry_event_t& ev);
  std::optional<int> on_status(const ferry_event_t& ev);
  void note_connections() {
    uint32_t now = 0, peak = 0;
    if (ferry_client_upload_connections(s_.client(), &now, &peak) == FERRY_OK) {
      view_.set_connections(now, peak);
    }
  }
  void check_pause_marker();
  int give_up(const std::string& why, int status);

  const Args& args_;
  Session& s_;
  ProgressView& view_;
  std::string local_id_;
  uint64_t message_id_ = 0;
  int last_status_ = 0;
  bool paused_ = false;
  TransferWatch watch_;
};

int Follower::give_up(const std::string& why, int status) {
  view_.finish();
  print_error(why + "; upload " + local_id_ +
              " stays pending: run the same command again to resume it, or `ferry "
              "upload-cancel " +
              local_id_ + "`");
  return status;
}

void Follower::check_pause_marker() {
  bool want = pause_marker_exists(s_.state_dir(), local_id_);
  if (want == paused_) return;
  int rc = want ? ferry_upload_pause(s_.client(), local_id_.c_str())
                : ferry_upload_resume(s_.client(), local_id_.c_str());
  if (rc != FERRY_OK && rc != FERRY_ENOTFOUND) {
    view_.note(std::string("cannot ") + (want ? "pause" : "resume") + ": " + ferry_strerror(rc));
    return;
  }
  paused_ = want;
  view_.paused(want);
}

std::optional<int> Follower::on_status(const ferry_event_t& ev) {
  const ferry_message_t& m = ev.u.message;
  if (m.id) {
    message_id_ = m.id;
    view_.set_message_id(m.id);
  }
  if (m.media) total = m.media->size;
  if (m.status == FERRY_MSG_PENDING || m.status == FERRY_MSG_UPLOADING) {
    if (ev.status != FERRY_OK) {
      std::string d = *ev.detail ? std::string(" (") + ev.detail + ")" : "";
      view_.note(std::string("waiting: ") + ferry_strerror(ev.status) + d);
    }
    if (m.status != last_status_ && m.status == FERRY_MSG_UPLOADING)
      view_.status(m.status, FERRY_OK, "");
    last_status_ = m.status;
    return std::nullopt;
  }
  last_status_ = m.status;
  if (m.status == FERRY_MSG_READY) {
    note_connections();
    view_.progress(total, total);
    view_.status(m.status, FERRY_OK, "");
    view_.finish();
    if (args_.json) return 0;
    std::printf("ready [%llu] %s \u2192 %s: %s, %.1f MB/s\n",
                static_cast<unsigned long long>(message_id_), name.c_str(),
                args_.positional[0].c_str(), format_bytes(total).c_str(), view_.average_mb_s());
    std::fflush(stdout);
    return 0;
  }
  view_.status(m.status, ev.status, ev.detail);
  view_.finish();
  std::string why = m.status == FERRY_MSG_CANCELLED ? "cancelled" : "failed";
  if (ev.status != FERRY_OK) why += std::string(": ") + ferry_strerror(ev.status);
  if (*ev.detail) why += std::string(" (") + ev.detail + ")";
  print_error("upload of " + name + " to " + args_.positional[0] + " " + why);
  return 1;
}

std::optional<int> Follower::handle(const ferry_event_t& ev) {
  switch (ev.type) {
    case FERRY_EVENT_MESSAGE_STATUS:
      if (!ev.u.message.local_id || local_id_ != ev.u.message.local_id) break;
      return on_status(ev);
    case FERRY_EVENT_UPLOAD_PROGRESS: {
      const auto& p = ev.u.progress;
      if (!p.outgoing || !p.local_id || local_id_ != p.local_id) break;
      if (p.message_id) view_.set_message_id(message_id_ = p.message_id);
      total = p.total;
      view_.waiting(ev.status, ev.detail);
      note_connections();
      view_.progress(p.done, p.total);
      break;
    }
    default:
      if (auto stop = watch_.on_event(ev, paused_ ? "paused" : "")) {
        return give_up(stop->why, stop->status);
      }
      break;
  }
  return std::nullopt;
}

int Follower::run() {
  for (;;) {
    if (auto stop = watch_.check()) return give_up(stop->why, stop->status);
    check_pause_marker();
    EventPtr ev = s_.next_within(TransferWatch::kTickMs);
    if (!ev) continue;
    if (auto rc = handle(*ev)) return *rc;
  }
}

}  // namespace

int cmd_send_file(const Args& args) {
  install_interrupt_handlers();
  const std::string& to = args.positional[0];
  std::string path = absolute_path(args.positional[1]);
  auto s = Session::open(args, false);
  if (!s) return 1;
  if (!require_session(*s)) return 1;
  ProgressView::Mode mode = ProgressView::pick_mode(args.json);
  std::string local_id, name;
  std::optional<Pending> pending = find_pending(*s, to, path);
  if (pending) {
    local_id = pending->local_id;
    name = pending->name;
  } else {
    char id[FERRY_LOCAL_ID_SIZE];
    const char* display = args.name ? args.name->c_str() : nullptr;
    int rc = ferry_send_file(s->client(), to.c_str(), path.c_str(), args.kind, display, id);
    if (rc != FERRY_OK) {
      std::string what = rc == FERRY_ENOFILE ? path + ": " : "";
      print_error("cannot send " + what + ferry_strerror(rc));
      return 1;
    }
    local_id = id;
    name = args.name ? *args.name : std::filesystem::path(path).filename().string();
  }
  ProgressView view(mode, name, local_id);
  Follower follower(args, *s, view, local_id);
  follower.name = name;
  if (pending) {
    view.set_message_id(pending->message_id);
    follower.total = pending->size;
    view.resumed(pending->done, pending->size);
  } else if (!args.json) {
    view.note("sending " + name + " to " + to + " (upload " + local_id + ")");
  }
  return follower.run();
}

}  // namespace ferry::cli
