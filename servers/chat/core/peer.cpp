// ChatCore, the resource-server link (docs/protocol.md section 7): peer_auth, upload_progress,
// upload_done, and the `cancel` events a linked resource server receives.
//
// A resource server is an ordinary connection that proves it holds the shared key by a MAC
// over this connection's HELLO challenge; the connection then accepts only peer ops.
//
// The advertised address outlives the peer connection. Rejected alternative: clearing it when
// the last peer leaves. That turns every resd restart or link blip into a window in which
// send_media fails with no_resource_server, although a resd on a fixed port comes back at the
// same address, and clients already retry an unreachable resource server (with upload_ticket
// for a fresh address). With port 0 the address changes on restart, and the restarted resd's
// peer_auth replaces it within one reconnect. A chatd restart forgets the address: the resd's
// link reconnects and announces it again, so nothing is persisted.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "proto/hex.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/core/validate.h"

namespace ferry::chat {

using proto::FrameType;

namespace {

constexpr char kPeerMacLabel[] = "ferry-peer-v1:";

// Constant-time check of hex(HMAC-SHA256(key, "ferry-peer-v1:" + challenge)).
bool peer_mac_ok(const std::string& key, const std::string& challenge, const std::string& mac_hex) {
  std::string mac;
  if (key.empty() || !proto::hex_decode(mac_hex, mac)) return false;
  std::string data = kPeerMacLabel + challenge;
  unsigned char want[EVP_MAX_MD_SIZE];
  unsigned int want_len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), want, &want_len)) {
    return false;
  }
  return mac.size() == want_len && CRYPTO_memcmp(mac.data(), want, want_len) == 0;
}

}  // namespace

bool ChatCore::require_peer(Conn& c, uint64_t rid) {
  if (c.state == State::Peer) return true;
  respond_error(c, rid, "not_authenticated", "this op is for a linked resource server (peer_auth)");
  return false;
}

void ChatCore::op_peer_auth(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "mac", "advertise", "http"})) return;
  if (c.state != State::Greeted) {
    return respond_error(c, rid, "already_authenticated", "this connection is logged in");
  }
  std::string mac, advertise, http, err;
  if (!proto::json_get_string(req, "mac", mac, err) ||
      !proto::json_get_string(req, "advertise", advertise, err) ||
      !proto::json_opt_string(req, "http", http, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_host_port(advertise)) {
    return respond_error(c, rid, "bad_request",
                         "field 'advertise' must be HOST:PORT with a port of 1-65535");
  }
  bool has_http = cJSON_GetObjectItemCaseSensitive(req, "http") != nullptr;
  if (has_http && !valid_host_port(http)) {
    return respond_error(c, rid, "bad_request",
                         "field 'http' must be HOST:PORT with a port of 1-65535");
  }
  if (!peer_mac_ok(config_.secret_key, c.challenge, mac)) {
    return respond_error(
        c, rid, "auth_failed",
        "the peer MAC does not verify (do both servers read the same secret file?)");
  }
  // Read before linking: if the store fails, the resd reconnects and the catch-up reruns.
  std::vector<uint64_t> cancelled;
  std::vector<std::string> binds;
  if (store_.cancelled_since(now_ms_ - config_.cancel_catchup_ms, cancelled) != StoreStatus::Ok ||
      binds_to_replay(binds) != StoreStatus::Ok) {
    return respond_error(c, rid, "internal", store_.last_error());
  }
  c.state = State::Peer;
  peers_.push_back(c.id);
  resource_address_ = advertise;  // the latest linked resource server wins
  // The HTTP address follows the same rule (docs/protocol-download.md §1). A resd without an
  // HTTP listener leaves the last announced one in place: like the upload address, a stale
  // address costs a failed fetch and a retry, while clearing it would make download_url fail
  // for everyone during a relink.
  if (has_http) http_address_ = http;
  respond_raw_ok(c, rid, "");
  for (uint64_t id : cancelled) push_cancel(id, &c);
  for (const std::string& b : binds) send_frame(c, FrameType::Push, b);
}

// Finds a media message for a peer op; answers unknown_message and returns false when there
// is none.
bool ChatCore::find_media_for_peer(Conn& c, uint64_t rid, uint64_t id, StoredMessage& m) {
  StoreStatus s = store_.find_message(id, m);
  if (s == StoreStatus::Failed) {
    respond_error(c, rid, "internal", store_.last_error());
    return false;
  }
  if (s == StoreStatus::NotFound || !m.has_media) {
    respond_error(c, rid, "unknown_message", "no media message " + std::to_string(id));
    return false;
  }
  return true;
}

// Progress is stored only when it is relayed, so the stored value is the last relayed one and
// the 5% throttle survives a chatd restart; a media upload costs at most ~21 such writes.
void ChatCore::op_upload_progress(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "message_id", "done", "total"})) return;
  if (!require_peer(c, rid)) return;
  uint64_t id = 0, done = 0, total = 0;
  std::string err;
  if (!proto::json_get_u64(req, "message_id", id, err) ||
      !proto::json_get_u64(req, "done", done, err) ||
      !proto::json_get_u64(req, "total", total, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (done > total) return respond_error(c, rid, "bad_request", "field 'done' exceeds 'total'");
  StoredMessage m;
  if (!find_media_for_peer(c, rid, id, m)) return;
  if (total != m.media.size) {
    return respond_error(
        c, rid, "bad_request",
        "field 'total' differs from the message's size " + std::to_string(m.media.size));
  }
  // Late progress for a finished or cancelled upload, or a value below what was relayed (the
  // resd lost unsynced chunks in a crash), changes nothing and is not an error.
  uint64_t step = m.media.size / 20;
  bool relay = m.status == MessageStatus::Uploading && done > m.progress &&
               (done == m.media.size || done - m.progress >= step);
  if (relay) {
    if (store_.set_progress(id, done) == StoreStatus::Failed) {
      return respond_error(c, rid, "internal", store_.last_error());
    }
    push_progress(m, done);
  }
  respond_raw_ok(c, rid, "");
}

void ChatCore::op_upload_done(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "message_id", "size", "sha256"})) return;
  if (!require_peer(c, rid)) return;
  uint64_t id = 0, size = 0;
  std::string sha256, err;
  if (!proto::json_get_u64(req, "message_id", id, err) ||
      !proto::json_get_u64(req, "size", size, err) ||
      !proto::json_get_string(req, "sha256", sha256, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  StoredMessage m;
  if (!find_media_for_peer(c, rid, id, m)) return;
  bool uploading = m.status == MessageStatus::Uploading;
  if (size != m.media.size || sha256 != m.media.sha256) {
    if (uploading) {
      // The resd verified a different file than the sender announced: no receiver may get it.
      if (store_.finish_upload(id, MessageStatus::Failed, now_ms_) == StoreStatus::Failed) {
        return respond_error(c, rid, "internal", store_.last_error());
      }
      m.status = MessageStatus::Failed;
      push_status(m, 0);
    }
    return respond_error(c, rid, "bad_request",
                         "size/sha256 differ from message " + std::to_string(id) + " (now " +
                             message_status_name(m.status) + ")");
  }
  if (uploading) {
    // Durable before the answer: once the resd hears back it drops its outbox entry.
    if (store_.finish_upload(id, MessageStatus::Ready, now_ms_) == StoreStatus::Failed) {
      return respond_error(c, rid, "internal", store_.last_error());
    }
    if (m.progress < m.media.size) push_progress(m, m.media.size);  // the final one, always
    m.status = MessageStatus::Ready;
    m.progress = m.media.size;
    push_status(m, 0);
  }
  // A repeat (or a done for a cancelled/failed message) answers the current status.
  respond_raw_ok(c, rid, std::string("\"status\":\"") + message_status_name(m.status) + "\"");
}

void ChatCore::push_progress(const StoredMessage& m, uint64_t done) {
  std::string body = "{\"event\":\"progress\",\"message_id\":" + std::to_string(m.id) +
                     ",\"done\":" + std::to_string(done) +
                     ",\"total\":" + std::to_string(m.media.size) + "}";
  push_to_parties(m, 0, body);
}

// Tells one peer (`only`) or every linked peer to delete an upload's partial file.
void ChatCore::push_cancel(uint64_t message_id, Conn* only) {
  std::string body = "{\"event\":\"cancel\",\"message_id\":" + std::to_string(message_id) + "}";
  if (only) return send_frame(*only, FrameType::Push, body);
  for (ConnId id : peers_) {
    if (Conn* p = find(id)) send_frame(*p, FrameType::Push, body);
  }
}

}  // namespace ferry::chat
