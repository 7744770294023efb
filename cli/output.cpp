#include "cli/output.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "cli/format.h"

namespace ferry::cli {
namespace {

cJSON* new_object() {
  cJSON* j = cJSON_CreateObject();
  if (!j) std::abort();  // out of memory: nothing sensible left to print
  return j;
}

// Ids, times and sizes stay below 2^53 (docs/protocol.md), so a double holds them exactly.
void add_u64(cJSON* j, const char* key, uint64_t v) {
  cJSON_AddNumberToObject(j, key, static_cast<double>(v));
}

void add_media_fields(cJSON* j, const ferry_media_t& media, int msg_status) {
  cJSON_AddStringToObject(j, "name", or_empty(media.name));
  add_u64(j, "size", media.size);
  cJSON_AddStringToObject(j, "sha256", or_empty(media.sha256));
  cJSON_AddStringToObject(j, "mime", or_empty(media.mime));
  add_u64(j, "width", media.width);
  add_u64(j, "height", media.height);
  add_u64(j, "duration_ms", media.duration_ms);
  add_u64(j, "progress", msg_status == FERRY_MSG_READY ? media.size : media.progress);
  add_u64(j, "thumb_bytes", media.thumb ? media.thumb_len : 0);
  uint32_t tw = 0, th = 0;
  if (jpeg_dimensions(media.thumb, media.thumb_len, tw, th)) {
    add_u64(j, "thumb_width", tw);
    add_u64(j, "thumb_height", th);
  }
}

// "1.2 MiB, image/jpeg, 1280×720, 0:03, thumbnail 320×180"
std::string media_summary(const ferry_media_t& media) {
  std::string s = format_bytes(media.size);
  if (media.mime && *media.mime) s += std::string(", ") + media.mime;
  if (media.width && media.height)
    s += ", " + std::to_string(media.width) + "\u00d7" + std::to_string(media.height);
  if (media.duration_ms) s += ", " + format_duration(double(media.duration_ms) / 1000.0);
  uint32_t tw = 0, th = 0;
  if (jpeg_dimensions(media.thumb, media.thumb_len, tw, th))
    s += ", thumbnail " + std::to_string(tw) + "\u00d7" + std::to_string(th);
  return s;
}

std::string percent_text(uint64_t done, uint64_t total) {
  if (total == 0) return "0%";
  return std::to_string(static_cast<unsigned>(double(done) * 100.0 / double(total))) + "%";
}

}  // namespace

const char* status_name(int msg_status) {
  switch (msg_status) {
    case FERRY_MSG_PENDING:
      return "pending";
    case FERRY_MSG_SENT:
      return "sent";
    case FERRY_MSG_FAILED:
      return "failed";
    case FERRY_MSG_UPLOADING:
      return "uploading";
    case FERRY_MSG_READY:
      return "ready";
    case FERRY_MSG_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

void print_message_human(const ferry_message_t& m) {
  if (!m.media) {
    std::printf("[%llu] %s \u2192 %s: %s\n", static_cast<unsigned long long>(m.id),
                or_empty(m.from), or_empty(m.to), or_empty(m.text));
    std::fflush(stdout);
    return;
  }
  const ferry_media_t& media = *m.media;
  std::string state = status_name(m.status);
  if (m.status == FERRY_MSG_UPLOADING) state += " " + percent_text(media.progress, media.size);
  std::printf("[%llu] %s \u2192 %s: %s %s (%s) %s\n", static_cast<unsigned long long>(m.id),
              or_empty(m.from), or_empty(m.to), kind_icon(media.kind), or_empty(media.name),
              media_summary(media).c_str(), state.c_str());
  std::fflush(stdout);
}

void print_message_json(const ferry_message_t& m) {
  cJSON* j = new_object();
  cJSON_AddStringToObject(j, "type", "message");
  add_u64(j, "id", m.id);
  cJSON_AddStringToObject(j, "from", or_empty(m.from));
  cJSON_AddStringToObject(j, "to", or_empty(m.to));
  cJSON_AddStringToObject(j, "kind", m.media ? kind_name(m.media->kind) : or_empty(m.kind));
  if (m.text && !m.media) cJSON_AddStringToObject(j, "text", m.text);
  cJSON_AddStringToObject(j, "status", status_name(m.status));
  cJSON_AddNumberToObject(j, "ts", static_cast<double>(m.ts_ms));
  cJSON_AddStringToObject(j, "cid", or_empty(m.local_id));
  if (m.media) add_media_fields(j, *m.media, m.status);
  print_json_line(j);
}

void print_message(const ferry_message_t& m, bool json) {
  if (json)
    print_message_json(m);
  else
    print_message_human(m);
}

void print_error(const std::string& what) { std::fprintf(stderr, "ferry: %s\n", what.c_str()); }

void print_json_line(cJSON* j) {
  char* s = cJSON_PrintUnformatted(j);
  if (!s) std::abort();
  std::printf("%s\n", s);
  std::fflush(stdout);
  cJSON_free(s);
  cJSON_Delete(j);
}

cJSON* make_status_json(const char* local_id, uint64_t message_id, int msg_status, int err,
                        const char* detail) {
  cJSON* j = new_object();
  cJSON_AddStringToObject(j, "type", "status");
  cJSON_AddStringToObject(j, "id", or_empty(local_id));
  add_u64(j, "message_id", message_id);
  cJSON_AddStringToObject(j, "status", status_upper(msg_status));
  if (err != FERRY_OK) {
    cJSON_AddStringToObject(j, "error", ferry_err_name(err));
    std::string why = ferry_strerror(err);
    if (detail && *detail) why += std::string(" (") + detail + ")";
    cJSON_AddStringToObject(j, "detail", why.c_str());
  }
  return j;
}

cJSON* make_progress_json(const char* local_id, uint64_t message_id, uint64_t done, uint64_t total,
                          double mb_s) {
  cJSON* j = new_object();
  cJSON_AddStringToObject(j, "type", "progress");
  cJSON_AddStringToObject(j, "id", or_empty(local_id));
  add_u64(j, "message_id", message_id);
  add_u64(j, "done", done);
  add_u64(j, "total", total);
  if (mb_s >= 0) cJSON_AddNumberToObject(j, "mb_s", std::round(mb_s * 10.0) / 10.0);
  return j;
}

}  // namespace ferry::cli
