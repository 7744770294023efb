// ChatCore, accounts: register, login, auth, logout. Password hashing is slow on purpose, so
// register and login emit a HashJob and finish in on_hash_done(); the connection's later
// frames wait in its decoder meanwhile, keeping answers in arrival order.
#include "proto/hex.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/core/password.h"
#include "servers/chat/core/validate.h"

namespace ferry::chat {

namespace {
const char* const kAuthFailed = "wrong user name or password";
}

std::string ChatCore::random(size_t n) {
  return config_.random_bytes ? config_.random_bytes(n) : proto::random_bytes(n);
}

void ChatCore::op_register(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "user", "password"})) return;
  if (c.state == State::Authenticated) {
    return respond_error(c, rid, "already_authenticated", "this connection is logged in");
  }
  std::string user, password, err;
  if (!proto::json_get_string(req, "user", user, err) ||
      !proto::json_get_string(req, "password", password, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_username(user)) {
    return respond_error(c, rid, "bad_username",
                         "user names are 3-32 characters of a-z 0-9 _ . - and start with a letter");
  }
  if (!valid_password(password)) {
    return respond_error(c, rid, "bad_password", "passwords are 8-1024 bytes");
  }
  uint64_t id;
  bool failed;
  if (lookup_user(user, id, failed)) return respond_error(c, rid, "user_exists", "user name taken");
  if (failed) return respond_error(c, rid, "internal", store_.last_error());
  // A concurrent register of the same name may still win; create_user() then says Exists.
  AuthJob job;
  job.kind = AuthKind::Register;
  job.rid = rid;
  job.name = user;
  job.salt = random(kSaltBytes);
  job.iterations = config_.kdf_iterations;
  start_hash(c, std::move(job), password);
}

void ChatCore::op_login(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "user", "password"})) return;
  if (c.state == State::Authenticated) {
    return respond_error(c, rid, "already_authenticated", "this connection is logged in");
  }
  std::string user, password, err;
  if (!proto::json_get_string(req, "user", user, err) ||
      !proto::json_get_string(req, "password", password, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_password(password)) {
    return respond_error(c, rid, "bad_password", "passwords are 8-1024 bytes");
  }
  AuthJob job;
  job.kind = AuthKind::Login;
  job.rid = rid;
  job.name = user;
  UserRecord u;
  StoreStatus s = valid_username(user) ? store_.find_user_by_name(user, u) : StoreStatus::NotFound;
  if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
  if (s == StoreStatus::Ok) {
    job.user_id = u.id;
    job.salt = u.salt;
    job.expected_hash = u.hash;
    job.iterations = u.iterations;
  } else {
    // Unknown user: hash anyway with a random salt so the answer takes as long as for a real
    // user and timing does not reveal which names exist.
    job.salt = random(kSaltBytes);
    job.iterations = config_.kdf_iterations;
  }
  start_hash(c, std::move(job), password);
}

void ChatCore::start_hash(Conn& c, AuthJob job, const std::string& password) {
  uint64_t id = next_job_id_++;
  job.conn = c.id;
  HashJob h;
  h.id = id;
  h.password = password;
  h.salt = job.salt;
  h.iterations = job.iterations;
  hash_queue_.push_back(std::move(h));
  auth_jobs_.emplace(id, std::move(job));
  c.hash_job = id;
}

void ChatCore::on_hash_done(uint64_t job_id, const std::string& hash, int64_t now_ms) {
  now_ms_ = now_ms;
  auto it = auth_jobs_.find(job_id);
  if (it == auth_jobs_.end()) return;
  AuthJob job = std::move(it->second);
  auth_jobs_.erase(it);
  Conn* c = find(job.conn);
  if (!c || c->hash_job != job_id) return;  // the client left meanwhile
  c->hash_job = 0;
  if (!c->closing) {
    if (job.kind == AuthKind::Register) {
      finish_register(*c, job, hash);
    } else {
      finish_login(*c, job, hash);
    }
  }
  process_input(*c, now_ms);  // frames that arrived during the hash
}

void ChatCore::finish_register(Conn& c, const AuthJob& job, const std::string& hash) {
  uint64_t id = 0;
  StoreStatus s = store_.create_user(job.name, job.salt, hash, job.iterations, id);
  if (s == StoreStatus::Exists) return respond_error(c, job.rid, "user_exists", "user name taken");
  if (s != StoreStatus::Ok) return respond_error(c, job.rid, "internal", store_.last_error());
  id_by_name_[job.name] = id;
  name_by_id_[id] = job.name;
  authenticate(c, job.rid, id, true, now_ms_);
}

void ChatCore::finish_login(Conn& c, const AuthJob& job, const std::string& hash) {
  if (job.user_id == 0 || !hash_equal(hash, job.expected_hash)) {
    return respond_error(c, job.rid, "auth_failed", kAuthFailed);
  }
  authenticate(c, job.rid, job.user_id, true, now_ms_);
}

void ChatCore::op_auth(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "token"})) return;
  if (c.state == State::Authenticated) {
    return respond_error(c, rid, "already_authenticated", "this connection is logged in");
  }
  std::string token, err;
  if (!proto::json_get_string(req, "token", token, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_token(token)) return respond_error(c, rid, "auth_failed", "unknown session token");
  std::string raw;
  proto::hex_decode(token, raw);
  std::string token_hash = proto::sha256(raw);
  uint64_t user_id = 0;
  StoreStatus s = store_.find_session(token_hash, user_id);
  if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
  if (s != StoreStatus::Ok) return respond_error(c, rid, "auth_failed", "unknown session token");
  c.token_hash = token_hash;
  authenticate(c, rid, user_id, false, now_ms_);
}

// Marks the connection authenticated and answers. With new_token, first creates a session and
// returns its token (the only time the token exists in clear on the server).
void ChatCore::authenticate(Conn& c, uint64_t rid, uint64_t user_id, bool new_token,
                            int64_t now_ms) {
  const std::string& name = user_name(user_id);
  if (name.empty()) return respond_error(c, rid, "internal", store_.last_error());
  std::string token;
  if (new_token) {
    std::string raw = random(32);
    std::string token_hash = proto::sha256(raw);
    StoreStatus s = store_.create_session(token_hash, user_id, now_ms);
    if (s != StoreStatus::Ok) return respond_error(c, rid, "internal", store_.last_error());
    token = proto::hex_encode(raw);
    c.token_hash = token_hash;
  }
  c.state = State::Authenticated;
  c.user_id = user_id;
  route_add(c);
  proto::Json r = proto::json_object();
  proto::json_set_u64(r.get(), "user_id", user_id);
  proto::json_set_string(r.get(), "user", name);
  if (new_token) proto::json_set_string(r.get(), "token", token);
  // So a client can connect to the resource server while its first send_media is on the way.
  if (!resource_address_.empty()) proto::json_set_string(r.get(), "resource", resource_address_);
  respond_ok(c, rid, r.get());
}

void ChatCore::op_logout(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid"})) return;
  if (!require_auth(c, rid)) return;
  StoreStatus s = store_.delete_session(c.token_hash);
  if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
  route_remove(c);
  c.state = State::Greeted;
  c.user_id = 0;
  c.token_hash.clear();
  proto::Json r = proto::json_object();
  respond_ok(c, rid, r.get());
}

}  // namespace ferry::chat
