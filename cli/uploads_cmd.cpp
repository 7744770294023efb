// `ferry uploads`, `ferry upload-pause|upload-resume|upload-cancel ID`: the pending uploads
// of a state directory. Listing and cancelling go through the SDK (ferry_uploads_list,
// ferry_upload_cancel); pausing is a marker the running `ferry send-file` obeys (control.h).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/control.h"
#include "cli/format.h"
#include "cli/output.h"
#include "cli/session.h"

namespace ferry::cli {
namespace {

constexpr uint64_t kCancelTimeoutS = 30;

struct UploadRow {
  std::string local_id, to, path, name;
  uint64_t message_id = 0, size = 0, done = 0;
  bool paused = false;
};

bool list_uploads(Session& s, std::vector<UploadRow>& rows) {
  ferry_upload_info_t* list = nullptr;
  size_t count = 0;
  int rc = ferry_uploads_list(s.client(), &list, &count);
  if (rc != FERRY_OK) {
    print_error(std::string("cannot list uploads: ") + ferry_strerror(rc));
    return false;
  }
  for (size_t i = 0; i < count; i++) {
    const ferry_upload_info_t& u = list[i];
    UploadRow r{or_empty(u.local_id), or_empty(u.to), or_empty(u.path), or_empty(u.name),
                u.message_id,         u.size,         u.done,           u.paused != 0};
    r.paused = r.paused || pause_marker_exists(s.state_dir(), r.local_id);
    rows.push_back(std::move(r));
  }
  ferry_uploads_free(list, count);
  return true;
}

double percent(uint64_t done, uint64_t size) {
  return size ? double(done) * 100.0 / double(size) : 100.0;
}

void print_row_json(const UploadRow& r) {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "type", "upload");
  cJSON_AddStringToObject(j, "id", r.local_id.c_str());
  cJSON_AddNumberToObject(j, "message_id", double(r.message_id));
  cJSON_AddStringToObject(j, "to", r.to.c_str());
  cJSON_AddStringToObject(j, "name", r.name.c_str());
  cJSON_AddStringToObject(j, "path", r.path.c_str());
  cJSON_AddNumberToObject(j, "size", double(r.size));
  cJSON_AddNumberToObject(j, "done", double(r.done));
  cJSON_AddNumberToObject(j, "percent", double(int(percent(r.done, r.size) * 10)) / 10.0);
  cJSON_AddBoolToObject(j, "paused", r.paused);
  print_json_line(j);
}

// The pending upload `id` of this state directory; explains and returns nullopt otherwise.
std::optional<UploadRow> find_upload(Session& s, const std::string& id) {
  std::vector<UploadRow> rows;
  if (!valid_local_id(id)) {
    print_error("'" + id + "' is not an upload id (see `ferry uploads`)");
    return std::nullopt;
  }
  if (!list_uploads(s, rows)) return std::nullopt;
  for (UploadRow& r : rows)
    if (r.local_id == id) return r;
  print_error("no pending upload " + id + " in " + s.state_dir() + " (see `ferry uploads`)");
  return std::nullopt;
}

int set_paused(const Args& args, bool paused) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  const std::string& id = args.positional[0];
  std::optional<UploadRow> row = find_upload(*s, id);
  if (!row) return 1;
  if (!set_pause_marker(s->state_dir(), id, paused)) {
    print_error("cannot write to the state directory " + s->state_dir());
    return 1;
  }
  // This process's client carries the upload too while it runs (the SDK resumes pending
  // uploads in every client of the directory), so pause it here as well.
  if (paused)
    ferry_upload_pause(s->client(), id.c_str());
  else
    ferry_upload_resume(s->client(), id.c_str());
  std::printf("%s %s (%s to %s, %.0f%% held)\n", paused ? "paused" : "resumed", id.c_str(),
              row->name.c_str(), row->to.c_str(), percent(row->done, row->size));
  return 0;
}

}  // namespace

int cmd_uploads(const Args& args) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  std::vector<UploadRow> rows;
  if (!list_uploads(*s, rows)) return 1;
  if (args.json) {
    for (const UploadRow& r : rows) print_row_json(r);
    return 0;
  }
  if (rows.empty()) {
    std::printf("no pending uploads\n");
    return 0;
  }
  std::printf("%-32s  %-12s  %-24s  %10s  %6s  %s\n", "ID", "TO", "NAME", "SIZE", "DONE", "PAUSED");
  for (const UploadRow& r : rows) {
    std::printf("%-32s  %-12s  %-24s  %10s  %5.1f%%  %s\n", r.local_id.c_str(), r.to.c_str(),
                r.name.c_str(), format_bytes(r.size).c_str(), percent(r.done, r.size),
                r.paused ? "yes" : "no");
  }
  std::fflush(stdout);
  return 0;
}

int cmd_upload_pause(const Args& args) { return set_paused(args, true); }
int cmd_upload_resume(const Args& args) { return set_paused(args, false); }

int cmd_upload_cancel(const Args& args) {
  auto s = Session::open(args, false);
  if (!s) return 1;
  if (!require_session(*s)) return 1;
  const std::string& id = args.positional[0];
  if (!find_upload(*s, id)) return 1;
  int rc = ferry_upload_cancel(s->client(), id.c_str());
  if (rc != FERRY_OK) {
    print_error("cannot cancel " + id + ": " + ferry_strerror(rc));
    return 1;
  }
  set_pause_marker(s->state_dir(), id, false);
  Deadline deadline = deadline_after_s(args.timeout_s.value_or(kCancelTimeoutS));
  while (EventPtr ev = s->next(deadline)) {
    if (ev->type != FERRY_EVENT_MESSAGE_STATUS || !ev->u.message.local_id ||
        id != ev->u.message.local_id)
      continue;
    int st = ev->u.message.status;
    if (st == FERRY_MSG_CANCELLED) {
      std::printf("cancelled %s\n", id.c_str());
      return 0;
    }
    if (st == FERRY_MSG_READY || st == FERRY_MSG_FAILED) {
      print_error("cannot cancel " + id + ": it is already " + status_name(st));
      return 1;
    }
  }
  print_error("the server did not confirm the cancel of " + id + " in time (" +
              (s->offline_reason().empty() ? "offline" : s->offline_reason()) +
              "); check with `ferry uploads` and run it again");
  return 1;
}

}  // namespace ferry::cli
