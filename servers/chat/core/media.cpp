// ChatCore, media messages (docs/protocol.md section 6): send_media, bind_hash,
// upload_ticket, cancel_upload, upload tickets, and the pushes both parties get when a media
// message moves.
//
// "Hash later": a send_media without sha256 is stored and pushed at once and gets an unbound
// ticket (claim h = ""), so the client sends bytes while it is still hashing the file;
// bind_hash then sets the hash (or finds an instant send) and hands out the bound ticket the
// resource server needs before it verifies and finishes the file.
//
// send_media is validated here and then joins the same group-commit batch as text sends
// (enqueue_send in messaging.cpp): one transaction per loop iteration whatever the mix. The
// store decides instant send inside that transaction, so two racing sends cannot disagree.
#include "proto/ticket.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/core/validate.h"

namespace ferry::chat {

using proto::FrameType;

namespace {

bool media_kind_has_thumb(const std::string& kind) { return kind == "image" || kind == "video"; }

std::string bind_event(uint64_t message_id, const std::string& sha256) {
  return "{\"event\":\"bind\",\"message_id\":" + std::to_string(message_id) +
         ",\"sha256\":\"" + sha256 + "\"}";
}

}  // namespace

void ChatCore::op_send_media(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req,
                    {"op", "rid", "to", "cid", "kind", "name", "size", "mime", "sha256", "width",
                     "height", "duration_ms", "thumb"})) {
    return;
  }
  if (!require_auth(c, rid)) return;
  std::string to, cid, kind, err;
  if (!proto::json_get_string(req, "to", to, err) ||
      !proto::json_get_string(req, "cid", cid, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_cid(cid)) {
    return respond_error(c, rid, "bad_request",
                         "field 'cid' must be 8-64 characters of [A-Za-z0-9_-]");
  }
  if (!proto::json_get_string(req, "kind", kind, err)) {
    return respond_error(c, rid, "bad_media", err);
  }
  if (!valid_media_kind(kind)) {
    return respond_error(c, rid, "bad_media", "field 'kind' must be image, video or file");
  }
  NewMessage m;
  if (!read_media(c, rid, req, kind, m.media)) return;
  bool failed;
  if (!lookup_user(to, m.receiver, failed)) {
    if (failed) return respond_error(c, rid, "internal", store_.last_error());
    return respond_error(c, rid, "unknown_user", "no user named '" + to + "'");
  }
  if (resource_address_.empty()) {
    return respond_error(c, rid, "no_resource_server",
                         "no resource server has linked to this chat server yet; try later");
  }
  m.sender = c.user_id;
  m.cid = std::move(cid);
  m.kind = std::move(kind);
  m.has_media = true;
  enqueue_send(c, rid, std::move(m));
}

// Reads and checks every media field; on failure answers bad_media naming the field.
bool ChatCore::read_media(Conn& c, uint64_t rid, const cJSON* req, const std::string& kind,
                          MediaInfo& media) {
  std::string err, thumb_b64;
  bool has_thumb = cJSON_GetObjectItemCaseSensitive(req, "thumb") != nullptr;
  if (!proto::json_get_string(req, "name", media.name, err) ||
      !proto::json_get_u64(req, "size", media.size, err) ||
      !proto::json_get_string(req, "mime", media.mime, err) ||
      !proto::json_opt_string(req, "sha256", media.sha256, err) ||
      !proto::json_opt_u64(req, "width", media.width, err) ||
      !proto::json_opt_u64(req, "height", media.height, err) ||
      !proto::json_opt_u64(req, "duration_ms", media.duration_ms, err) ||
      !proto::json_opt_string(req, "thumb", thumb_b64, err)) {
    respond_error(c, rid, "bad_media", err);
    return false;
  }
  const char* bad = nullptr;
  if (!valid_media_name(media.name)) {
    bad = "field 'name' must be 1-255 bytes of UTF-8 without control characters";
  } else if (media.size > kMediaSizeMax) {
    bad = "field 'size' must be at most 2^53-1";
  } else if (!valid_mime(media.mime)) {
    bad = "field 'mime' must be 1-127 bytes of printable ASCII";
  } else if (cJSON_GetObjectItemCaseSensitive(req, "sha256") && !valid_sha256_hex(media.sha256)) {
    bad = "field 'sha256' must be 64 lowercase hex digits (or be left out: hash later)";
  } else if (media.width > kMediaDimensionMax) {
    bad = "field 'width' must be at most 1000000";
  } else if (media.height > kMediaDimensionMax) {
    bad = "field 'height' must be at most 1000000";
  } else if (has_thumb && !media_kind_has_thumb(kind)) {
    bad = "field 'thumb' is only allowed for kind image or video";
  } else if (has_thumb && thumb_b64.size() > (kThumbBytesMax + 2) / 3 * 4) {
    bad = "field 'thumb' must decode to at most 65536 bytes";
  } else if (has_thumb && !base64_decode(thumb_b64, media.thumb)) {
    bad = "field 'thumb' must be standard base64 with padding";
  } else if (has_thumb && media.thumb.size() > kThumbBytesMax) {
    bad = "field 'thumb' must decode to at most 65536 bytes";
  } else if (has_thumb && !looks_like_jpeg(media.thumb)) {
    bad = "field 'thumb' must be a JPEG";
  }
  if (bad) {
    respond_error(c, rid, "bad_media", bad);
    return false;
  }
  return true;
}

// Finds the message named by the request's message_id for an op only its sender may use while
// it uploads. Answers the failure itself and returns false.
bool ChatCore::find_own_upload(Conn& c, uint64_t rid, const cJSON* req, StoredMessage& m,
                               std::initializer_list<const char*> fields) {
  if (!check_fields(c, rid, req, fields)) return false;
  if (!require_auth(c, rid)) return false;
  uint64_t id = 0;
  std::string err;
  if (!proto::json_get_u64(req, "message_id", id, err)) {
    respond_error(c, rid, "bad_request", err);
    return false;
  }
  StoreStatus s = store_.find_message(id, m);
  if (s == StoreStatus::Failed) {
    respond_error(c, rid, "internal", store_.last_error());
    return false;
  }
  // The receiver gets unknown_message too: the op is not theirs, and saying more would tell
  // a stranger which ids exist.
  if (s == StoreStatus::NotFound || m.sender != c.user_id) {
    respond_error(c, rid, "unknown_message", "you sent no message " + std::to_string(id));
    return false;
  }
  if (m.status != MessageStatus::Uploading) {
    respond_error(c, rid, "not_uploading",
                  "message " + std::to_string(id) + " is " + message_status_name(m.status));
    return false;
  }
  return true;
}

void ChatCore::op_upload_ticket(Conn& c, uint64_t rid, const cJSON* req) {
  StoredMessage m;
  if (!find_own_upload(c, rid, req, m)) return;
  if (resource_address_.empty()) {
    return respond_error(c, rid, "no_resource_server",
                         "no resource server has linked to this chat server yet; try later");
  }
  respond_raw_ok(c, rid, "\"upload\":" + upload_json(m));
}

void ChatCore::op_bind_hash(Conn& c, uint64_t rid, const cJSON* req) {
  StoredMessage m;
  if (!find_own_upload(c, rid, req, m, {"op", "rid", "message_id", "sha256"})) return;
  std::string sha, err;
  if (!proto::json_get_string(req, "sha256", sha, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_sha256_hex(sha)) {
    return respond_error(c, rid, "bad_request", "field 'sha256' must be 64 lowercase hex digits");
  }
  if (m.media.sha256.empty()) {
    StoreStatus s = store_.bind_hash(m.id, sha, now_ms_, m);
    if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
    if (s == StoreStatus::NotFound) {
      // Moved on between the lookup and the update (cancelled, or bound by another session).
      if (store_.find_message(m.id, m) != StoreStatus::Ok) {
        return respond_error(c, rid, "internal", store_.last_error());
      }
    }
  }
  if (m.media.sha256 != sha) {
    return respond_error(c, rid, "hash_conflict",
                         "message " + std::to_string(m.id) + " is bound to sha256 " +
                             m.media.sha256);
  }
  if (m.status == MessageStatus::Ready) {
    // Instant send: this sender stored these bytes before. The partial upload is dropped.
    respond_raw_ok(c, rid, "\"message\":" + message_json(m));
    push_status(m, 0);
    push_cancel(m.id, nullptr);
    return;
  }
  if (m.status != MessageStatus::Uploading) {
    return respond_error(c, rid, "not_uploading",
                         "message " + std::to_string(m.id) + " is " +
                             message_status_name(m.status));
  }
  // The resource server may hold every chunk already: it binds and verifies now rather than
  // when the client next OPENs with the bound ticket. Pushed (and remembered for the
  // catch-up) even when no resource server is linked yet, as after a chat server restart:
  // the hash is stored, and the resd that links next gets the bind.
  push_bind(m);
  if (resource_address_.empty()) {
    return respond_error(c, rid, "no_resource_server",
                         "no resource server has linked to this chat server yet; try later");
  }
  respond_raw_ok(c, rid, "\"message\":" + message_json(m) + ",\"upload\":" + upload_json(m));
}

void ChatCore::push_bind(const StoredMessage& m) {
  std::string body = bind_event(m.id, m.media.sha256);
  for (ConnId id : peers_) {
    if (Conn* p = find(id)) send_frame(*p, FrameType::Push, body);
  }
  // One entry per message (a client asks again after a reconnect): the latest time counts.
  for (auto it = recent_binds_.begin(); it != recent_binds_.end(); ++it) {
    if (it->message_id == m.id) {
      recent_binds_.erase(it);
      break;
    }
  }
  recent_binds_.push_back({m.id, now_ms_});
  while (recent_binds_.size() > config_.bind_catchup_max) recent_binds_.pop_front();
}

// The `bind` events for a resource server that links now: recent binds of messages still
// uploading (the others need no bind; a resd keeps a bind for an upload it does not know yet
// for a while, its early binds), oldest first. Failed if the store fails.
StoreStatus ChatCore::binds_to_replay(std::vector<std::string>& events) {
  events.clear();
  while (!recent_binds_.empty() &&
         recent_binds_.front().at_ms < now_ms_ - config_.bind_catchup_ms) {
    recent_binds_.pop_front();
  }
  for (const RecentBind& b : recent_binds_) {
    StoredMessage m;
    StoreStatus s = store_.find_message(b.message_id, m);
    if (s == StoreStatus::Failed) return s;
    if (s != StoreStatus::Ok) continue;
    if (m.status != MessageStatus::Uploading) continue;
    events.push_back(bind_event(m.id, m.media.sha256));
  }
  return StoreStatus::Ok;
}

void ChatCore::op_cancel_upload(Conn& c, uint64_t rid, const cJSON* req) {
  StoredMessage m;
  if (!find_own_upload(c, rid, req, m)) return;
  StoreStatus s = store_.finish_upload(m.id, MessageStatus::Cancelled, now_ms_);
  if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
  m.status = MessageStatus::Cancelled;
  respond_raw_ok(c, rid, "\"message\":" + message_json(m));
  push_status(m, 0);
  // A resource server that is not linked now gets it in the catch-up after its next peer_auth.
  push_cancel(m.id, nullptr);
}

// {"ticket":…,"resource":…,"expires_ms":…} for an uploading message, signed now.
std::string ChatCore::upload_json(const StoredMessage& m) {
  proto::TicketClaims claims;
  claims.kind = proto::TicketKind::Upload;
  claims.user_id = m.sender;
  claims.message_id = m.id;
  claims.size = m.media.size;
  claims.sha256_hex = m.media.sha256;
  claims.expires_ms = now_ms_ + config_.upload_ticket_lifetime_ms;
  proto::Json j = proto::json_object();
  proto::json_set_string(j.get(), "ticket", proto::ticket_sign(claims, config_.secret_key));
  proto::json_set_string(j.get(), "resource", resource_address_);
  proto::json_set_i64(j.get(), "expires_ms", claims.expires_ms);
  return proto::json_print(j.get());
}

// Tells every connection of both parties (origin 0: including the one that asked) that a
// media message reached `m.status`.
void ChatCore::push_status(const StoredMessage& m, ConnId origin) {
  proto::Json j = proto::json_object();
  proto::json_set_string(j.get(), "event", "status");
  proto::json_set_u64(j.get(), "message_id", m.id);
  proto::json_set_string(j.get(), "status", message_status_name(m.status));
  // A "hash later" message was pushed without its hash; READY carries it.
  if (m.has_media && !m.media.sha256.empty()) {
    proto::json_set_string(j.get(), "sha256", m.media.sha256);
  }
  proto::json_set_string(j.get(), "from", user_name(m.sender));
  proto::json_set_string(j.get(), "to", user_name(m.receiver));
  push_to_parties(m, origin, proto::json_print(j.get()));
}

// Pushes `body` to every connection of the receiver and of the sender except `origin` (0 =
// none is excepted; connection ids start at 1). For a note-to-self both sets are one user.
void ChatCore::push_to_parties(const StoredMessage& m, ConnId origin, const std::string& body) {
  auto push_to = [&](uint64_t user) {
    auto it = routes_.find(user);
    if (it == routes_.end()) return;
    for (ConnId id : it->second) {
      if (id == origin) continue;
      if (Conn* c = find(id)) send_frame(*c, FrameType::Push, body);
    }
  };
  push_to(m.receiver);
  if (m.sender != m.receiver) push_to(m.sender);
}

}  // namespace ferry::chat
