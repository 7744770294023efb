#include "sdk/core/wire.h"

#include "proto/frame.h"
#include "proto/json.h"

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

std::string send_body(uint64_t rid, const OutboxEntry& e) {
  proto::Json j = request("send", rid);
  json_set_string(j.get(), "to", e.to);
  json_set_string(j.get(), "cid", e.cid);
  json_set_string(j.get(), "text", e.text);
  return proto::json_print(j.get());
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

}  // namespace ferry::sdk::wire
