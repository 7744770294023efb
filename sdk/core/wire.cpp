#include "sdk/core/wire.h"

#include <cstring>

#include "proto/frame.h"
#include "proto/json.h"
#include "proto/json_text.h"
#include "sdk/core/base64.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk::wire {

using proto::json_set_string;
using proto::json_set_u64;

namespace {

proto::Json request(const char* op, uint64_t rid) {
  proto::Json j = proto::json_object();
  json_set_string(j.get(), "op", op);
  json_set_u64(j.get(), "rid", rid);
  return j;
}

std::string credentials(const char* op, uint64_t rid, const std::string& user,
                        const std::string& password) {
  proto::Json j = request(op, rid);
  json_set_string(j.get(), "user", user);
  json_set_string(j.get(), "password", password);
  return proto::json_print(j.get());
}

}  // namespace

std::string hello_body(const std::string& agent) {
  proto::Json j = proto::json_object();
  json_set_u64(j.get(), "proto", proto::kProtocolVersion);
  json_set_string(j.get(), "agent", agent);
  return proto::json_print(j.get());
}

std::string register_body(uint64_t rid, const std::string& user, const std::string& password) {
  return credentials("register", rid, user, password);
}

std::string login_body(uint64_t rid, const std::string& user, const std::string& password) {
  return credentials("login", rid, user, password);
}

std::string auth_body(uint64_t rid, const std::string& token) {
  proto::Json j = request("auth", rid);
  json_set_string(j.get(), "token", token);
  return proto::json_print(j.get());
}

std::string logout_body(uint64_t rid) { return proto::json_print(request("logout", rid).get()); }

namespace {

// Below this, cJSON prints a whole number as plain decimal digits ("%d" or "%1.15g").
constexpr uint64_t kPlainNumberLimit = 1'000'000'000'000'000ull;

// cJSON_CreateString(s.c_str()) keeps a string up to its first NUL; print the same.
void append_json_string(std::string& out, std::string_view s) {
  if (const void* nul = std::memchr(s.data(), 0, s.size())) {
    s = s.substr(0, static_cast<size_t>(static_cast<const char*>(nul) - s.data()));
  }
  proto::json_append_string(out, s);
}

}  // namespace

std::string send_body(uint64_t rid, const OutboxEntry& e) {
  std::string out;
  append_send_body(out, rid, e);
  return out;
}

void append_send_body(std::string& out, uint64_t rid, const OutboxEntry& e) {
  if (rid >= kPlainNumberLimit) {  // never in practice; cJSON decides how it looks
    proto::Json j = request("send", rid);
    json_set_string(j.get(), "to", e.to);
    json_set_string(j.get(), "cid", e.cid);
    json_set_string(j.get(), "text", e.text);
    out += proto::json_print(j.get());
    return;
  }
  out.reserve(out.size() + 48 + e.to.size() + e.cid.size() + e.text.size() + e.text.size() / 8);
  out += "{\"op\":\"send\",\"rid\":";
  proto::json_append_int(out, rid);
  out += ",\"to\":";
  append_json_string(out, e.to);
  out += ",\"cid\":";
  append_json_string(out, e.cid);
  out += ",\"text\":";
  append_json_string(out, e.text);
  out += '}';
}

std::string sync_body(uint64_t rid, uint64_t since, uint32_t limit) {
  proto::Json j = request("sync", rid);
  json_set_u64(j.get(), "since", since);
  json_set_u64(j.get(), "limit", limit);
  return proto::json_print(j.get());
}

std::string history_body(uint64_t rid, const std::string& peer, uint64_t before, uint32_t limit) {
  proto::Json j = request("history", rid);
  json_set_string(j.get(), "peer", peer);
  json_set_u64(j.get(), "before", before);
  json_set_u64(j.get(), "limit", limit);
  return proto::json_print(j.get());
}

std::string send_media_body(uint64_t rid, const PendingUpload& u) {
  proto::Json j = request("send_media", rid);
  json_set_string(j.get(), "to", u.to);
  json_set_string(j.get(), "cid", u.cid);
  json_set_string(j.get(), "kind", media_kind_name(u.kind));
  json_set_string(j.get(), "name", u.name);
  json_set_u64(j.get(), "size", u.size);
  json_set_string(j.get(), "mime", u.mime);
  if (!u.sha256.empty()) json_set_string(j.get(), "sha256", u.sha256);  // else: hash later
  json_set_u64(j.get(), "width", u.width);
  json_set_u64(j.get(), "height", u.height);
  json_set_u64(j.get(), "duration_ms", u.duration_ms);
  // The server refuses a thumbnail on kind "file".
  if (!u.thumb.empty() && u.kind != FERRY_KIND_FILE) {
    json_set_string(j.get(), "thumb", base64_encode(u.thumb));
  }
  return proto::json_print(j.get());
}

std::string bind_hash_body(uint64_t rid, uint64_t message_id, const std::string& sha256) {
  proto::Json j = request("bind_hash", rid);
  json_set_u64(j.get(), "message_id", message_id);
  json_set_string(j.get(), "sha256", sha256);
  return proto::json_print(j.get());
}

std::string upload_ticket_body(uint64_t rid, uint64_t message_id) {
  proto::Json j = request("upload_ticket", rid);
  json_set_u64(j.get(), "message_id", message_id);
  return proto::json_print(j.get());
}

std::string cancel_upload_body(uint64_t rid, uint64_t message_id) {
  proto::Json j = request("cancel_upload", rid);
  json_set_u64(j.get(), "message_id", message_id);
  return proto::json_print(j.get());
}

const char* media_kind_name(int kind) {
  switch (kind) {
    case FERRY_KIND_IMAGE: return "image";
    case FERRY_KIND_VIDEO: return "video";
    default: return "file";
  }
}

int media_kind_from_name(const std::string& name) {
  if (name == "image") return FERRY_KIND_IMAGE;
  if (name == "video") return FERRY_KIND_VIDEO;
  return FERRY_KIND_FILE;
}

int message_status_from_name(const std::string& name) {
  if (name == "sent") return FERRY_MSG_SENT;
  if (name == "uploading") return FERRY_MSG_UPLOADING;
  if (name == "ready") return FERRY_MSG_READY;
  if (name == "cancelled") return FERRY_MSG_CANCELLED;
  if (name == "failed") return FERRY_MSG_FAILED;
  return 0;
}

bool parse_upload_grant(const cJSON* obj, UploadGrant& out, std::string& err) {
  if (!cJSON_IsObject(obj)) {
    err = "upload must be an object";
    return false;
  }
  return proto::json_get_string(obj, "ticket", out.ticket, err) &&
         proto::json_get_string(obj, "resource", out.resource, err);
}

namespace {

bool parse_media(const cJSON* obj, Message& out, std::string& err) {
  const cJSON* media = cJSON_GetObjectItemCaseSensitive(obj, "media");
  if (!media) return true;  // a text message
  if (!cJSON_IsObject(media)) {
    err = "field 'media' must be an object";
    return false;
  }
  MediaMeta& m = out.media;
  uint64_t width = 0, height = 0;
  std::string thumb;
  if (!proto::json_get_string(media, "name", m.name, err) ||
      !proto::json_get_u64(media, "size", m.size, err) ||
      !proto::json_opt_string(media, "mime", m.mime, err) ||
      !proto::json_get_string(media, "sha256", m.sha256, err) ||
      !proto::json_opt_u64(media, "width", width, err) ||
      !proto::json_opt_u64(media, "height", height, err) ||
      !proto::json_opt_u64(media, "duration_ms", m.duration_ms, err) ||
      !proto::json_opt_string(media, "thumb", thumb, err) ||
      !proto::json_opt_u64(obj, "progress", m.progress, err)) {
    return false;
  }
  if (!thumb.empty() && !base64_decode(thumb, m.thumb)) {
    err = "field 'thumb' is not base64";
    return false;
  }
  m.width = static_cast<uint32_t>(width);
  m.height = static_cast<uint32_t>(height);
  m.kind = media_kind_from_name(out.kind);
  out.has_media = true;
  return true;
}

}  // namespace

bool parse_message(const cJSON* obj, Message& out, std::string& err) {
  if (!cJSON_IsObject(obj)) {
    err = "message must be an object";
    return false;
  }
  uint64_t ts = 0;
  out.kind = "text";
  if (!proto::json_get_u64(obj, "id", out.id, err) ||
      !proto::json_get_string(obj, "cid", out.cid, err) ||
      !proto::json_get_string(obj, "from", out.from, err) ||
      !proto::json_get_string(obj, "to", out.to, err) ||
      !proto::json_opt_string(obj, "kind", out.kind, err) ||
      !proto::json_opt_string(obj, "text", out.text, err) ||
      !proto::json_get_u64(obj, "ts", ts, err)) {
    return false;
  }
  if (out.id == 0) {
    err = "message id 0";
    return false;
  }
  out.ts_ms = static_cast<int64_t>(ts);
  std::string status;
  if (!proto::json_opt_string(obj, "status", status, err) || !parse_media(obj, out, err)) {
    return false;
  }
  // Text messages are SENT once the server has them; media messages carry their own status.
  int st = message_status_from_name(status);
  out.status = out.has_media && st != 0 ? st : FERRY_MSG_SENT;
  return true;
}

bool parse_messages(const cJSON* obj, std::vector<Message>& out, bool& more, std::string& err) {
  const cJSON* arr = cJSON_GetObjectItemCaseSensitive(obj, "messages");
  if (!cJSON_IsArray(arr)) {
    err = "field 'messages' must be an array";
    return false;
  }
  more = false;
  if (!proto::json_opt_bool(obj, "more", more, err)) return false;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, arr) {
    Message m;
    if (!parse_message(item, m, err)) return false;
    out.push_back(std::move(m));
  }
  return true;
}

bool parse_hello(const cJSON* obj, ServerHello& out, std::string& err) {
  if (!cJSON_IsObject(obj)) {
    err = "HELLO body must be a JSON object";
    return false;
  }
  return proto::json_get_u64(obj, "proto", out.proto, err) &&
         proto::json_opt_u64(obj, "heartbeat_ms", out.heartbeat_ms, err);
}

void split_address(const std::string& address, std::string& host, std::string& port) {
  size_t colon = address.rfind(':');
  host = colon == std::string::npos ? address : address.substr(0, colon);
  port = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
}

}  // namespace ferry::sdk::wire
