// `ferry download MESSAGE_ID --out PATH` and `ferry url MESSAGE_ID`.
//
// Resume across runs: the SDK records every download in the state directory and continues
// the pending ones by itself when a client opens that directory; asking again for the same
// message and path only follows it. So a download interrupted by Ctrl-C, SIGTERM or a crash
// resumes from the bytes already in PATH.part when the same command runs again.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/format.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/transfer_watch.h"

namespace ferry::cli {
namespace {

bool parse_message_id(const std::string& s, uint64_t& id) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || *end != '\0' || errno != 0 || v == 0 || v > (1ull << 53)) {
    print_error("MESSAGE_ID must be a message id (a whole number above 0), not '" + s + "'");
    return false;
  }
  id = v;
  return true;
}

const char* download_state_upper(int state) {
  switch (state) {
    case FERRY_DOWNLOAD_FETCHING:
      return "FETCHING";
    case FERRY_DOWNLOAD_RETRYING:
      return "RETRYING";
    case FERRY_DOWNLOAD_PAUSED:
      return "PAUSED";
    case FERRY_DOWNLOAD_VERIFYING:
      return "VERIFYING";
    case FERRY_DOWNLOAD_DONE:
      return "DONE";
    case FERRY_DOWNLOAD_FAILED:
      return "FAILED";
    case FERRY_DOWNLOAD_CANCELLED:
      return "CANCELLED";
    default:
      return "?";
  }
}

cJSON* download_status_json(const ferry_event_t& ev) {
  const auto& d = ev.u.download;
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "type", "status");
  cJSON_AddNumberToObject(j, "message_id", double(d.message_id));
  cJSON_AddStringToObject(j, "status", download_state_upper(d.state));
  cJSON_AddStringToObject(j, "path", or_empty(d.path));
  cJSON_AddNumberToObject(j, "done", double(d.done));
  cJSON_AddNumberToObject(j, "total", double(d.total));
  if (ev.status != FERRY_OK) {
    cJSON_AddStringToObject(j, "error", ferry_err_name(ev.status));
    cJSON_AddStringToObject(j, "detail", or_empty(ev.detail));
  }
  return j;
}

class Follower {
 public:
  Follower(const Args& args, Session& s, ProgressView& view, uint64_t id)
      : args_(args), s_(s), view_(view), id_(id), watch_(args, s, view) {}
  int run();

 private:
  std::optional<int> handle(const ferry_event_t& ev);
  std::optional<int> on_status(const ferry_event_t& ev);
  int give_up(const std::string& why, int status);

  const Args& args_;
  Session& s_;
  ProgressView& view_;
  uint64_t id_;
  uint64_t total_ = 0;
  bool resumed_noted_ = false;
  TransferWatch watch_;
};

int Follower::give_up(const std::string& why, int status) {
  view_.finish();
  print_error(why + "; the download of message " + std::to_string(id_) +
              " stays pending: run the same command again to resume it");
  return status;
}

std::optional<int> Follower::on_status(const ferry_event_t& ev) {
  const auto& d = ev.u.download;
  if (d.total) total_ = d.total;
  bool json = args_.json;
  switch (d.state) {
    case FERRY_DOWNLOAD_FETCHING:
      if (d.done > 0 && !resumed_noted_) view_.resumed(d.done, d.total);
      resumed_noted_ = true;  // later fetches of this run are retries, reported as such
      if (json) print_json_line(download_status_json(ev));
      return std::nullopt;
    case FERRY_DOWNLOAD_RETRYING:
    case FERRY_DOWNLOAD_PAUSED:
    case FERRY_DOWNLOAD_VERIFYING:
      if (json) {
        print_json_line(download_status_json(ev));
      } else if (d.state == FERRY_DOWNLOAD_RETRYING) {
        std::string why = ferry_strerror(ev.status);
        if (*ev.detail) why += std::string(": ") + ev.detail;
        view_.note("retrying (" + why + ")");
      } else if (d.state == FERRY_DOWNLOAD_PAUSED) {
        view_.paused(true);
      }
      return std::nullopt;
    case FERRY_DOWNLOAD_DONE: {
      view_.progress(d.total, d.total);
      view_.finish();
      if (json) {
        cJSON* j = download_status_json(ev);
        cJSON_AddNumberToObject(j, "size", double(d.total));
        cJSON_AddNumberToObject(j, "mb_s", std::round(view_.average_mb_s() * 10.0) / 10.0);
        print_json_line(j);
        return 0;
      }
      std::printf("downloaded [%llu] \u2192 %s: %s, %.1f MB/s, SHA-256 verified\n",
                  static_cast<unsigned long long>(id_), or_empty(d.path),
                  format_bytes(d.total).c_str(), view_.average_mb_s());
      std::fflush(stdout);
      return 0;
    }
    default: {  // FAILED, CANCELLED
      view_.finish();
      if (json) print_json_line(download_status_json(ev));
      std::string why = d.state == FERRY_DOWNLOAD_CANCELLED ? "cancelled" : "failed";
      if (ev.status != FERRY_OK) why += std::string(": ") + ferry_strerror(ev.status);
      if (*ev.detail) why += std::string(" (") + ev.detail + ")";
      print_error("download of message " + std::to_string(id_) + " " + why);
      return 1;
    }
  }
}

std::optional<int> Follower::handle(const ferry_event_t& ev) {
  switch (ev.type) {
    case FERRY_EVENT_DOWNLOAD_PROGRESS:
      if (ev.u.download.message_id != id_) break;
      total_ = ev.u.download.total;
      view_.progress(ev.u.download.done, ev.u.download.total);
      break;
    case FERRY_EVENT_DOWNLOAD_STATUS:
      if (ev.u.download.message_id != id_) break;
      return on_status(ev);
    default:
      if (auto stop = watch_.on_event(ev, "")) return give_up(stop->why, stop->status);
      break;
  }
  return std::nullopt;
}

int Follower::run() {
  for (;;) {
    if (auto stop = watch_.check()) return give_up(stop->why, stop->status);
    EventPtr ev = s_.next_within(TransferWatch::kTickMs);
    if (!ev) continue;
    if (auto rc = handle(*ev)) return *rc;
  }
}

}  // namespace

int cmd_download(const Args& args) {
  install_interrupt_handlers();
  uint64_t id = 0;
  if (!parse_message_id(args.positional[0], id)) return 2;
  if (!args.out) {
    print_error("usage: ferry download MESSAGE_ID --out PATH: --out is required");
    return 2;
  }
  auto s = Session::open(args, false);
  if (!s) return 1;
  if (!require_session(*s)) return 1;
  int rc = ferry_download(s->client(), id, args.out->c_str());
  if (rc != FERRY_OK) {
    std::string why = ferry_strerror(rc);
    if (rc == FERRY_ENOFILE) why = "the directory of " + *args.out + " does not exist";
    if (rc == FERRY_EINVAL)
      why = "message " + std::to_string(id) +
            " is already being downloaded to another path, "
            "or " +
            *args.out + " is not a file path";
    print_error("cannot download: " + why);
    return 1;
  }
  // Running the command is asking for the file: a download paused earlier (the pause is
  // durable) continues too.
  ferry_download_resume(s->client(), id);
  std::string name = std::filesystem::path(*args.out).filename().string();
  ProgressView view(ProgressView::pick_mode(args.json), name, std::to_string(id));
  view.set_download(true);
  view.set_message_id(id);
  Follower follower(args, *s, view, id);
  return follower.run();
}

int cmd_url(const Args& args) {
  uint64_t id = 0;
  if (!parse_message_id(args.positional[0], id)) return 2;
  auto s = Session::open(args, false);
  if (!s) return 1;
  if (!require_session(*s)) return 1;
  uint64_t rid = 0;
  int rc = ferry_download_url(s->client(), id, static_cast<uint32_t>(args.ttl_s.value_or(0)), &rid);
  if (rc != FERRY_OK) {
    print_error(std::string("cannot ask for a URL: ") + ferry_strerror(rc));
    return 1;
  }
  // The SDK answers within about 30 s (FERRY_ENOTCONN when the server stays unreachable).
  Deadline deadline = deadline_after_s(args.timeout_s.value_or(60));
  for (;;) {
    EventPtr ev = s->next(deadline);
    if (!ev) {
      print_error("timed out waiting for the server");
      return 1;
    }
    if (ev->type != FERRY_EVENT_DOWNLOAD_URL || ev->request_id != rid) continue;
    if (ev->status != FERRY_OK) {
      std::string why = ferry_strerror(ev->status);
      if (*ev->detail) why += std::string(" (") + ev->detail + ")";
      print_error("no URL for message " + std::to_string(id) + ": " + why);
      return 1;
    }
    const auto& u = ev->u.url;
    if (args.json) {
      cJSON* j = cJSON_CreateObject();
      cJSON_AddStringToObject(j, "type", "url");
      cJSON_AddNumberToObject(j, "message_id", double(u.message_id));
      cJSON_AddStringToObject(j, "url", or_empty(u.url));
      cJSON_AddNumberToObject(j, "expires_ms", double(u.expires_ms));
      cJSON_AddNumberToObject(j, "size", double(u.size));
      cJSON_AddStringToObject(j, "sha256", or_empty(u.sha256));
      cJSON_AddStringToObject(j, "name", or_empty(u.name));
      cJSON_AddStringToObject(j, "mime", or_empty(u.mime));
      print_json_line(j);
    } else {
      std::printf("%s\n", or_empty(u.url));
      std::fflush(stdout);
    }
    return 0;
  }
}

}  // namespace ferry::cli
