// ChatCore, downloads (docs/protocol-download.md §2): download_url grants one of the two
// parties of a ready media message a signed, expiring URL on the resource server's HTTP side.
//
// The resource server checks the ticket alone (no database), so everything its response
// headers need rides in the ticket: the content hash and size pick the stored file, the name
// and MIME type become Content-Disposition and Content-Type.
#include "proto/ticket.h"
#include "servers/chat/core/chat_core.h"

namespace ferry::chat {

namespace {

constexpr uint64_t kTtlDefaultS = 3600;
constexpr uint64_t kTtlMaxS = 7 * 24 * 3600;

// "uploading (37%)", "cancelled", "failed": what not_ready says about the message now.
std::string status_text(const StoredMessage& m) {
  std::string s = message_status_name(m.status);
  if (m.status == MessageStatus::Uploading) {
    uint64_t pct = m.media.size == 0 ? 0 : m.progress * 100 / m.media.size;
    if (pct > 99) pct = 99;  // not ready yet, so never "100%"
    s += " (" + std::to_string(pct) + "%)";
  }
  return s;
}

}  // namespace

void ChatCore::op_download_url(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "message_id", "ttl_s"})) return;
  if (!require_auth(c, rid)) return;
  uint64_t id = 0, ttl_s = kTtlDefaultS;
  std::string err;
  if (!proto::json_get_u64(req, "message_id", id, err) ||
      !proto::json_opt_u64(req, "ttl_s", ttl_s, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (cJSON_GetObjectItemCaseSensitive(req, "ttl_s") && (ttl_s < 1 || ttl_s > kTtlMaxS)) {
    return respond_error(c, rid, "bad_request", "field 'ttl_s' must be 1-604800 seconds");
  }
  StoredMessage m;
  StoreStatus s = store_.find_message(id, m);
  if (s == StoreStatus::Failed) return respond_error(c, rid, "internal", store_.last_error());
  // A stranger, a missing id and a text message all look the same: ids are not disclosed,
  // and a text message has nothing to download.
  if (s == StoreStatus::NotFound || !m.has_media ||
      (m.sender != c.user_id && m.receiver != c.user_id)) {
    return respond_error(c, rid, "unknown_message",
                         "no media message " + std::to_string(id) + " in your conversations");
  }
  if (m.status != MessageStatus::Ready) {
    return respond_error(c, rid, "not_ready",
                         "message " + std::to_string(id) + " is " + status_text(m));
  }
  if (http_address_.empty()) {
    return respond_error(c, rid, "no_resource_server",
                         "no resource server with an HTTP listener has linked yet; try later");
  }
  respond_raw_ok(c, rid, "\"download\":" + download_json(m, c.user_id, ttl_s));
}

// {"url":…,"ticket":…,"expires_ms":…,"size":…,"sha256":…,"name":…,"mime":…}, signed now.
std::string ChatCore::download_json(const StoredMessage& m, uint64_t user_id, uint64_t ttl_s) {
  proto::TicketClaims claims;
  claims.kind = proto::TicketKind::Download;
  claims.user_id = user_id;
  claims.message_id = m.id;
  claims.size = m.media.size;
  claims.sha256_hex = m.media.sha256;
  claims.expires_ms = now_ms_ + static_cast<int64_t>(ttl_s) * 1000;
  claims.name = m.media.name;
  claims.mime = m.media.mime;
  std::string ticket = proto::ticket_sign(claims, config_.secret_key);
  proto::Json j = proto::json_object();
  // Tickets are URL-safe base64 (A-Z a-z 0-9 - _ and '.'), so no escaping is needed.
  proto::json_set_string(j.get(), "url",
                         "http://" + http_address_ + "/m/" + std::to_string(m.id) + "?t=" + ticket);
  proto::json_set_string(j.get(), "ticket", ticket);
  proto::json_set_i64(j.get(), "expires_ms", claims.expires_ms);
  proto::json_set_u64(j.get(), "size", m.media.size);
  proto::json_set_string(j.get(), "sha256", m.media.sha256);
  proto::json_set_string(j.get(), "name", m.media.name);
  proto::json_set_string(j.get(), "mime", m.media.mime);
  return proto::json_print(j.get());
}

}  // namespace ferry::chat
