// ClientCore, part 2: the app's requests (register, login, history, logout), the stored-session
// auth, and matching RESPONSE frames to the requests in flight by rid.
#include <algorithm>
#include <utility>

#include "proto/json.h"
#include "sdk/core/client_core.h"
#include "sdk/core/errors.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

void ClientCore::submit_register(uint64_t request_id, const std::string& user,
                                 const std::string& password, uint64_t now) {
  Request r{Kind::Register, request_id, user, password, {}, 0, 0, now + config_.request_wait_ms};
  pending_.push_back(std::move(r));
  pump_requests(now);
}

void ClientCore::submit_login(uint64_t request_id, const std::string& user,
                              const std::string& password, uint64_t now) {
  Request r{Kind::Login, request_id, user, password, {}, 0, 0, now + config_.request_wait_ms};
  pending_.push_back(std::move(r));
  pump_requests(now);
}

void ClientCore::submit_history(uint64_t request_id, const std::string& peer, uint64_t before,
                                uint32_t limit, uint64_t now) {
  Request r{Kind::History, request_id, {}, {}, peer, before, limit, now + config_.request_wait_ms};
  // Without a session and no login on the way, waiting cannot help.
  if (!session_.held() && !auth_request_waiting()) {
    return fail_request(r, FERRY_ENOTAUTH, "not logged in");
  }
  pending_.push_back(std::move(r));
  pump_requests(now);
}

void ClientCore::logout(uint64_t now) {
  if (phase_ == Phase::Online) {
    uint64_t rid = new_rid();
    send_request(rid, Kind::Logout, wire::logout_body(rid), {Kind::Logout, {}, {}}, now);
    phase_ = Phase::Connected;
  }
  // A stored-session auth still in flight is revoked when its answer arrives (see
  // on_auth_response), because the session below is gone by then.
  drop_outbox(FERRY_ECANCELED, "logged out");
  uploads_.drop_all(FERRY_ECANCELED, "logged out");
  downloads_.drop_all(FERRY_ECANCELED, "logged out");
  session_ = Session{};
  last_seen_ = stored_last_seen_ = 0;
  store_.reset(session_);
  syncing_ = false;
  sync_buffer_.clear();
  if (phase_ == Phase::Connected) authenticate(now);
}

bool ClientCore::auth_request_waiting() const {
  auto is_auth = [](Kind k) { return k == Kind::Register || k == Kind::Login; };
  if (std::any_of(pending_.begin(), pending_.end(), [&](auto& r) { return is_auth(r.kind); })) {
    return true;
  }
  return std::any_of(in_flight_.begin(), in_flight_.end(),
                     [&](auto& kv) { return is_auth(kv.second.kind); });
}

bool ClientCore::session_auth_in_flight() const {
  if (phase_ != Phase::Authenticating) return false;
  return std::any_of(in_flight_.begin(), in_flight_.end(),
                     [](auto& kv) { return kv.second.kind == Kind::Auth; });
}

void ClientCore::send_user_request(const Request& r, uint64_t now) {
  uint64_t rid = new_rid();
  std::string body = r.kind == Kind::Register ? wire::register_body(rid, r.user, r.password)
                     : r.kind == Kind::Login  ? wire::login_body(rid, r.user, r.password)
                                              : wire::history_body(rid, r.peer, r.before, r.limit);
  send_request(rid, r.kind, body, InFlight{r.kind, r, {}}, now);
}

void ClientCore::authenticate(uint64_t now) {
  auto it = std::find_if(pending_.begin(), pending_.end(), [](const Request& r) {
    return r.kind == Kind::Register || r.kind == Kind::Login;
  });
  if (it != pending_.end()) {  // the app's register/login wins over the stored session
    Request r = std::move(*it);
    pending_.erase(it);
    phase_ = Phase::Authenticating;
    return send_user_request(r, now);
  }
  if (session_.held()) {
    phase_ = Phase::Authenticating;
    uint64_t rid = new_rid();
    return send_request(rid, Kind::Auth, wire::auth_body(rid, session_.token), {Kind::Auth, {}, {}},
                        now);
  }
  phase_ = Phase::Connected;
  set_public_state(FERRY_CONN_CONNECTED, FERRY_OK, "");
  std::deque<Request> waiting = std::exchange(pending_, {});
  for (const Request& r : waiting) fail_request(r, FERRY_ENOTAUTH, "not logged in");
}

void ClientCore::pump_requests(uint64_t now) {
  if (phase_ == Phase::Connected) return authenticate(now);
  if (phase_ != Phase::Online) return;
  while (!pending_.empty()) {
    if (pending_.front().kind != Kind::History) {
      // Register/login on an authenticated connection: the protocol has no way to drop the
      // authentication without revoking the token (logout), and a failed login must leave
      // the stored session usable. So start a fresh connection, where the login goes first
      // and the stored token stays valid to fall back on.
      return redial(now);
    }
    Request r = std::move(pending_.front());
    pending_.pop_front();
    send_user_request(r, now);
  }
}

void ClientCore::fail_request(const Request& r, int err, const std::string& detail) {
  Event e;
  e.type = r.kind == Kind::History ? FERRY_EVENT_HISTORY : FERRY_EVENT_AUTH;
  e.status = err;
  e.request_id = r.request_id;
  e.detail = detail;
  if (r.kind == Kind::History)
    e.peer = r.peer;
  else
    e.user = r.user;
  emit(std::move(e));
}

void ClientCore::expire_requests(uint64_t now) {
  bool connected = phase_ == Phase::Connected || phase_ == Phase::Online;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->deadline_ms > now) {
      ++it;
      continue;
    }
    Request r = std::move(*it);
    it = pending_.erase(it);
    if (connected)
      fail_request(r, FERRY_ETIMEDOUT, "request waited too long to be sent");
    else
      fail_request(r, FERRY_ENOTCONN, "no connection to the server");
  }
}

void ClientCore::handle_response(std::string_view body, uint64_t now) {
  proto::Json j = proto::json_parse(body);
  uint64_t rid = 0;
  bool ok = false;
  std::string err;
  if (!j || !cJSON_IsObject(j.get())) return protocol_failure("RESPONSE is not a JSON object", now);
  if (!proto::json_get_u64(j.get(), "rid", rid, err) ||
      !proto::json_get_bool(j.get(), "ok", ok, err)) {
    return protocol_failure("bad RESPONSE: " + err, now);
  }
  auto it = in_flight_.find(rid);
  if (it == in_flight_.end()) {
    return protocol_failure("RESPONSE for unknown rid " + std::to_string(rid), now);
  }
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  int code_err = FERRY_OK;
  std::string msg, code;
  if (!ok) {
    const cJSON* e = cJSON_GetObjectItemCaseSensitive(j.get(), "error");
    if (!proto::json_get_string(e, "code", code, err)) {
      return protocol_failure("bad RESPONSE error: " + err, now);
    }
    proto::json_opt_string(e, "message", msg, err);
    if (msg.empty()) msg = code;
    code_err = error_from_protocol_code(code, true);
  }
  switch (f.kind) {
    case Kind::Auth:
      return on_auth_response(ok, j.get(), code_err, msg, now);
    case Kind::Register:
    case Kind::Login:
      return on_login_response(f, ok, j.get(), code_err, msg, now);
    case Kind::Logout:
      return;  // nothing to report: the session is gone either way
    case Kind::Send:
      return on_send_response(f, ok, j.get(), code_err, msg, now);
    case Kind::Sync:
      return on_sync_response(ok, j.get(), code_err, msg, now);
    case Kind::History:
      return on_history_response(f, ok, j.get(), code_err, msg, now);
    case Kind::Media:
      return uploads_.on_chat_response(rid, ok, j.get(), code_err, code, msg, now);
    case Kind::Download:
      downloads_.on_chat_response(rid, ok, j.get(), code_err, code, msg, now);
      return pump_downloads(now);
  }
}

void ClientCore::on_auth_response(bool ok, const cJSON* body, int err, const std::string& msg,
                                  uint64_t now) {
  if (ok) {
    std::string user, why;
    uint64_t user_id = 0;
    if (!proto::json_get_string(body, "user", user, why) ||
        !proto::json_get_u64(body, "user_id", user_id, why)) {
      return protocol_failure("bad auth answer: " + why, now);
    }
    if (!session_.held()) {  // the app logged out while the auth was in flight
      uint64_t rid = new_rid();
      send_request(rid, Kind::Logout, wire::logout_body(rid), {Kind::Logout, {}, {}}, now);
      phase_ = Phase::Connected;
      return authenticate(now);
    }
    if (user != session_.user || user_id != session_.user_id) {
      session_.user = user;
      session_.user_id = user_id;
      store_.set_session(session_);
    }
    note_resource_hint(body, now);
    return become_online(0, now);
  }
  if (err != FERRY_EAUTH) return go_offline(err, "auth: " + msg, now, true);
  // The token was revoked or expired. Keep the user name (and with it the outbox) so that a
  // login as the same user picks up where this session left off.
  session_.token.clear();
  store_.set_session(session_);
  Event e;
  e.type = FERRY_EVENT_AUTH;
  e.status = FERRY_EAUTH;
  e.detail = "the stored session was rejected (" + msg + "): log in again";
  e.user = session_.user;
  emit(std::move(e));
  authenticate(now);
}

void ClientCore::on_login_response(const InFlight& f, bool ok, const cJSON* body, int err,
                                   const std::string& msg, uint64_t now) {
  if (!ok) {
    fail_request(f.request, err, msg);
    // Next: another queued login, else the stored session (still valid), else wait.
    return authenticate(now);
  }
  Session s;
  std::string why;
  if (!proto::json_get_string(body, "user", s.user, why) ||
      !proto::json_get_u64(body, "user_id", s.user_id, why) ||
      !proto::json_get_string(body, "token", s.token, why) || s.token.empty()) {
    return protocol_failure("bad login answer: " + why, now);
  }
  if (s.user != session_.user) {
    // Another user: the outbox and sync position belonged to the previous one.
    drop_outbox(FERRY_ECANCELED, "another user logged in");
    uploads_.drop_all(FERRY_ECANCELED, "another user logged in");
    downloads_.drop_all(FERRY_ECANCELED, "another user logged in");
    last_seen_ = stored_last_seen_ = 0;
    store_.reset(s);
  } else {
    store_.set_session(s);
  }
  session_ = std::move(s);
  note_resource_hint(body, now);
  become_online(f.request.request_id, now);
}

// The resource server's address, when the chat server has one, comes with every
// authentication (docs/protocol.md, register): the uploads dial it while send_media is out.
// The store keeps it for the next process, which dials it while its first send_media rides
// behind the auth (pump_uploads).
void ClientCore::note_resource_hint(const cJSON* body, uint64_t now) {
  const cJSON* r = cJSON_GetObjectItemCaseSensitive(body, "resource");
  if (!cJSON_IsString(r)) return;
  store_.set_resource_hint(r->valuestring);
  uploads_.set_resource_hint(r->valuestring, now);
}

void ClientCore::become_online(uint64_t request_id, uint64_t now) {
  phase_ = Phase::Online;
  uploads_.set_user(session_.user);
  uploads_.on_chat_online(now);
  downloads_.on_chat_online(now);
  set_public_state(FERRY_CONN_ONLINE, FERRY_OK, "");
  Event e;
  e.type = FERRY_EVENT_AUTH;
  e.request_id = request_id;
  e.user = session_.user;
  e.user_id = session_.user_id;
  emit(std::move(e));
  start_sync(now);
  pump_requests(now);
  pump_uploads(now);
  pump_downloads(now);
}

void ClientCore::on_history_response(const InFlight& f, bool ok, const cJSON* body, int err,
                                     const std::string& msg, uint64_t now) {
  if (!ok) return fail_request(f.request, err, msg);
  Event e;
  e.type = FERRY_EVENT_HISTORY;
  e.request_id = f.request.request_id;
  e.peer = f.request.peer;
  std::string why;
  if (!wire::parse_messages(body, e.messages, e.more, why)) {
    return protocol_failure("bad history answer: " + why, now);
  }
  emit(std::move(e));
}

}  // namespace ferry::sdk
