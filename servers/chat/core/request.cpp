// ChatCore, request level: REQUEST parsing and dispatch, responses, the error streak, and the
// user name cache shared by the handlers.
#include "servers/chat/core/chat_core.h"

namespace ferry::chat {

using proto::FrameType;

void ChatCore::on_request(Conn& c, std::string_view body, int64_t now_ms) {
  proto::Json req = proto::json_parse(body);
  if (!req || !cJSON_IsObject(req.get())) {
    send_error(c, "bad_json", "REQUEST body is not a JSON object", false);
    return count_error(c);
  }
  std::string err;
  uint64_t rid = 0;
  if (!proto::json_get_u64(req.get(), "rid", rid, err)) {
    // Without a usable rid there is nothing to answer with a RESPONSE.
    send_error(c, "bad_json", "REQUEST has no usable rid: " + err, false);
    return count_error(c);
  }
  std::string op;
  if (!proto::json_get_string(req.get(), "op", op, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  // Keep this connection's answers in arrival order: anything after a send waits for that
  // send's commit. Pipelines mixing sends with other ops are rare, so the extra commit is cheap.
  if (op != "send" && op != "send_media" && c.pending_sends > 0) {
    flush(now_ms);
    if (c.closing) return;  // the commit's answers cut this connection off (too_many_errors)
  }
  const cJSON* r = req.get();
  if (c.state == State::Peer) {
    // A resource server's connection speaks only the link's ops (section 7).
    if (op == "upload_progress") return op_upload_progress(c, rid, r);
    if (op == "upload_done") return op_upload_done(c, rid, r);
    if (op == "peer_auth") {
      return respond_error(c, rid, "already_authenticated", "this peer connection is linked");
    }
    return respond_error(c, rid, "unknown_op",
                         "op '" + op + "' is not allowed on a peer connection");
  }
  if (op == "send") return op_send(c, rid, r);
  if (op == "send_media") return op_send_media(c, rid, r);
  if (op == "upload_ticket") return op_upload_ticket(c, rid, r);
  if (op == "bind_hash") return op_bind_hash(c, rid, r);
  if (op == "cancel_upload") return op_cancel_upload(c, rid, r);
  if (op == "download_url") return op_download_url(c, rid, r);
  if (op == "peer_auth") return op_peer_auth(c, rid, r);
  if (op == "upload_progress") return op_upload_progress(c, rid, r);
  if (op == "upload_done") return op_upload_done(c, rid, r);
  if (op == "sync") return op_sync(c, rid, r);
  if (op == "history") return op_history(c, rid, r);
  if (op == "register") return op_register(c, rid, r);
  if (op == "login") return op_login(c, rid, r);
  if (op == "auth") return op_auth(c, rid, r);
  if (op == "logout") return op_logout(c, rid, r);
  respond_error(c, rid, "unknown_op", "no op named '" + op + "'");
}

// Fields are checked before authentication, so a body claiming "from" or "user_id" is refused
// as unknown_field whatever the connection's state: identity comes only from the session.
bool ChatCore::check_fields(Conn& c, uint64_t rid, const cJSON* req,
                            std::initializer_list<const char*> allowed) {
  std::string err;
  if (proto::json_only_fields(req, allowed, err)) return true;
  respond_error(c, rid, "unknown_field", err);
  return false;
}

bool ChatCore::require_auth(Conn& c, uint64_t rid) {
  if (c.state == State::Authenticated) return true;
  respond_error(c, rid, "not_authenticated", "log in first (register, login or auth)");
  return false;
}

// `result` holds the op's fields; rid and ok are put first for readable traces.
void ChatCore::respond_ok(Conn& c, uint64_t rid, cJSON* result) {
  std::string fields = proto::json_print(result);  // "{...}"
  respond_raw_ok(c, rid, std::string_view(fields).substr(1, fields.size() - 2));
}

// `fields` is the inside of a JSON object (`"a":1,"b":2`, possibly empty). Splicing strings
// lets a send's message JSON be printed once and reused for its response and every push.
void ChatCore::respond_raw_ok(Conn& c, uint64_t rid, std::string_view fields) {
  c.error_streak = 0;
  std::string body = "{\"rid\":" + std::to_string(rid) + ",\"ok\":true";
  if (!fields.empty()) {
    body += ',';
    body.append(fields);
  }
  body += '}';
  send_frame(c, FrameType::Response, body);
}

void ChatCore::respond_error(Conn& c, uint64_t rid, const char* code, const std::string& message) {
  proto::Json r = proto::json_object();
  proto::json_set_u64(r.get(), "rid", rid);
  proto::json_set_bool(r.get(), "ok", false);
  cJSON* e = cJSON_AddObjectToObject(r.get(), "error");
  if (!e) abort();
  proto::json_set_string(e, "code", code);
  proto::json_set_string(e, "message", message);
  send_frame(c, FrameType::Response, proto::json_print(r.get()));
  // A server failure is not the client's fault and does not count toward its cut-off.
  if (std::string_view(code) != "internal") count_error(c);
}

// Returns true with `id` when the user exists; `failed` reports a store failure.
bool ChatCore::lookup_user(const std::string& name, uint64_t& id, bool& failed) {
  failed = false;
  auto it = id_by_name_.find(name);
  if (it != id_by_name_.end()) {
    id = it->second;
    return true;
  }
  UserRecord u;
  StoreStatus s = store_.find_user_by_name(name, u);
  if (s == StoreStatus::Failed) failed = true;
  if (s != StoreStatus::Ok) return false;
  id_by_name_[u.name] = u.id;
  name_by_id_[u.id] = u.name;
  id = u.id;
  return true;
}

const std::string& ChatCore::user_name(uint64_t id) {
  auto it = name_by_id_.find(id);
  if (it != name_by_id_.end()) return it->second;
  UserRecord u;
  if (store_.find_user_by_id(id, u) != StoreStatus::Ok) {
    static const std::string unknown;  // only on a store failure; never cached
    return unknown;
  }
  id_by_name_[u.name] = u.id;
  auto inserted = name_by_id_.emplace(u.id, std::move(u.name)).first;
  return inserted->second;
}

}  // namespace ferry::chat
