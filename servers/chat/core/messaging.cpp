// ChatCore, messaging: send with group commit and idempotent retries, sync, history, pushes,
// and the MESSAGE object. send_media (media.cpp) joins the same batch through enqueue_send().
//
// A send is validated at once and joins batch_; flush() stores the whole batch in one
// transaction and only then answers and pushes, in id order. So an acknowledged message is
// always durable, and a busy server pays one commit per loop iteration, not per message.
#include "proto/json_text.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/core/validate.h"

namespace ferry::chat {

using proto::FrameType;

void ChatCore::op_send(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "to", "cid", "text"})) return;
  if (!require_auth(c, rid)) return;
  std::string to, cid, text, err;
  if (!proto::json_get_string(req, "to", to, err) ||
      !proto::json_get_string(req, "cid", cid, err) ||
      !proto::json_get_string(req, "text", text, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  if (!valid_cid(cid)) {
    return respond_error(c, rid, "bad_request",
                         "field 'cid' must be 8-64 characters of [A-Za-z0-9_-]");
  }
  if (!valid_text(text)) {
    return respond_error(c, rid, "bad_text", "text must be 1-65536 bytes of valid UTF-8");
  }
  uint64_t receiver;
  bool failed;
  if (!lookup_user(to, receiver, failed)) {
    if (failed) return respond_error(c, rid, "internal", store_.last_error());
    return respond_error(c, rid, "unknown_user", "no user named '" + to + "'");
  }
  NewMessage m;
  m.sender = c.user_id;
  m.receiver = receiver;
  m.cid = std::move(cid);
  m.kind = "text";
  m.text = std::move(text);
  enqueue_send(c, rid, std::move(m));
}

namespace {
// The batch-local twin of the store's duplicate rule: same receiver and content.
bool same_new_message(const NewMessage& a, const NewMessage& b) {
  if (a.receiver != b.receiver || a.kind != b.kind || a.text != b.text ||
      a.has_media != b.has_media) {
    return false;
  }
  return !a.has_media || (a.media.name == b.media.name && a.media.size == b.media.size &&
                          a.media.sha256 == b.media.sha256);
}
}  // namespace

// Adds a validated send (text or media) to the group-commit batch; flush() answers it.
void ChatCore::enqueue_send(Conn& c, uint64_t rid, NewMessage m) {
  auto key = std::make_pair(c.user_id, m.cid);
  auto it = batch_by_cid_.find(key);
  if (it != batch_by_cid_.end()) {
    // A retry of a send that is still in this batch: it shares the original's fate.
    if (!same_new_message(batch_[it->second], m)) {
      return respond_error(c, rid, "cid_conflict", "cid '" + m.cid + "' names another message");
    }
    waiters_.push_back(Waiter{c.id, rid, it->second, true});
    c.pending_sends++;
    return;
  }
  batch_by_cid_.emplace(std::move(key), batch_.size());
  waiters_.push_back(Waiter{c.id, rid, batch_.size(), false});
  batch_.push_back(std::move(m));
  c.pending_sends++;
}

void ChatCore::flush(int64_t now_ms) {
  now_ms_ = now_ms;
  if (batch_.empty()) return;
  std::vector<NewMessage> batch = std::move(batch_);
  std::vector<Waiter> waiters = std::move(waiters_);
  batch_.clear();
  waiters_.clear();
  batch_by_cid_.clear();
  std::vector<PutOutcome> outcomes;
  bool ok = store_.put_messages(batch, now_ms, outcomes) == StoreStatus::Ok;
  std::vector<std::string> json(batch.size());  // each message printed once
  // Waiters are in arrival order and each batch entry's first waiter precedes its retries, so
  // emitting "push, then response" per first waiter sends pushes in id order and keeps every
  // connection's send answers in request order.
  for (const Waiter& w : waiters) {
    Conn* c = find(w.conn);
    if (c && c->pending_sends > 0) c->pending_sends--;
    if (!ok) {
      if (c && !c->closing) {
        respond_error(*c, w.rid, "internal",
                      "storing failed, nothing was stored: " + store_.last_error());
      }
      continue;
    }
    const PutOutcome& o = outcomes[w.index];
    if (o.result != PutResult::Conflict && json[w.index].empty()) {
      json[w.index] = message_json(o.message);
    }
    // Pushed even when the sender has left: the message is stored and the receiver is online.
    if (!w.duplicate && o.result == PutResult::Inserted)
      push_message(o.message, w.conn, json[w.index]);
    if (!c || c->closing) continue;
    if (o.result == PutResult::Conflict) {
      respond_error(*c, w.rid, "cid_conflict", "cid '" + o.message.cid + "' names another message");
      continue;
    }
    answer_send(*c, w.rid, o.message, json[w.index],
                w.duplicate || o.result == PutResult::Duplicate);
  }
}

// A media message still uploading also gets a fresh upload ticket, so a retry after a lost
// answer can upload too.
void ChatCore::answer_send(Conn& c, uint64_t rid, const StoredMessage& m, const std::string& json,
                           bool duplicate) {
  std::string fields =
      "\"message\":" + json + (duplicate ? ",\"duplicate\":true" : ",\"duplicate\":false");
  if (m.has_media && m.status == MessageStatus::Uploading) {
    fields += ",\"upload\":" + upload_json(m);
  }
  respond_raw_ok(c, rid, fields);
}

// Pushes to every connection of the receiver and of the sender, except the connection the
// send came from (it gets the RESPONSE). For a note-to-self both sets are the same user.
void ChatCore::push_message(const StoredMessage& m, ConnId origin, const std::string& json) {
  push_to_parties(m, origin, "{\"event\":\"message\",\"message\":" + json + "}");
}

std::string ChatCore::message_json(const StoredMessage& m) {
  if (!m.has_media) {
    // The per-send path: appended by hand (proto/json_text.h), same bytes as the cJSON path below.
    const std::string& from = user_name(m.sender);
    const std::string& to = user_name(m.receiver);
    std::string out;
    out.reserve(96 + m.cid.size() + from.size() + to.size() + m.kind.size() + m.text.size());
    out += "{\"id\":";
    proto::json_append_int(out, m.id);
    out += ",\"cid\":";
    proto::json_append_string(out, m.cid);
    out += ",\"from\":";
    proto::json_append_string(out, from);
    out += ",\"to\":";
    proto::json_append_string(out, to);
    out += ",\"kind\":";
    proto::json_append_string(out, m.kind);
    out += ",\"text\":";
    proto::json_append_string(out, m.text);
    out += ",\"ts\":";
    proto::json_append_int(out, m.ts);
    out += ",\"status\":";
    proto::json_append_string(out, message_status_name(m.status));
    out += '}';
    return out;
  }
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "id", m.id);
  proto::json_set_string(j.get(), "cid", m.cid);
  proto::json_set_string(j.get(), "from", user_name(m.sender));
  proto::json_set_string(j.get(), "to", user_name(m.receiver));
  proto::json_set_string(j.get(), "kind", m.kind);
  if (!m.has_media) proto::json_set_string(j.get(), "text", m.text);
  proto::json_set_i64(j.get(), "ts", m.ts);
  proto::json_set_string(j.get(), "status", message_status_name(m.status));
  if (m.has_media) {
    cJSON* media = cJSON_AddObjectToObject(j.get(), "media");
    if (!media) abort();
    proto::json_set_string(media, "name", m.media.name);
    proto::json_set_u64(media, "size", m.media.size);
    proto::json_set_string(media, "mime", m.media.mime);
    proto::json_set_string(media, "sha256", m.media.sha256);
    proto::json_set_u64(media, "width", m.media.width);
    proto::json_set_u64(media, "height", m.media.height);
    proto::json_set_u64(media, "duration_ms", m.media.duration_ms);
    if (!m.media.thumb.empty())
      proto::json_set_string(media, "thumb", base64_encode(m.media.thumb));
    proto::json_set_u64(j.get(), "progress", m.progress);
  }
  return proto::json_print(j.get());
}

// Answers a page of messages. Past config_.page_bytes_max the page is cut short (never below
// one message) and `more` set. sync keeps the oldest messages (it pages forward from the last
// id); history keeps the newest (it pages backward from the first id), so the cut is on the
// side the client pages towards.
void ChatCore::respond_messages(Conn& c, uint64_t rid, const std::vector<StoredMessage>& msgs,
                                bool more, bool keep_newest) {
  std::vector<std::string> newest;  // history only: printed newest first, then reversed
  std::string fields = "\"messages\":[";
  size_t bytes = 0;
  for (size_t k = 0; k < msgs.size(); k++) {
    std::string one = message_json(keep_newest ? msgs[msgs.size() - 1 - k] : msgs[k]);
    if (k > 0 && bytes + one.size() > config_.page_bytes_max) {
      more = true;
      break;
    }
    bytes += one.size() + 1;
    if (keep_newest) {
      newest.push_back(std::move(one));
      continue;
    }
    if (k > 0) fields += ',';
    fields += one;
  }
  for (size_t i = newest.size(); i-- > 0;) {
    fields += newest[i];
    if (i > 0) fields += ',';
  }
  fields += more ? "],\"more\":true" : "],\"more\":false";
  respond_raw_ok(c, rid, fields);
}

// Reads an optional page limit; false (already answered) when out of range.
static bool page_limit(const cJSON* req, unsigned def, uint64_t& limit, std::string& err) {
  limit = def;
  if (!proto::json_opt_u64(req, "limit", limit, err)) return false;
  if (limit < 1 || limit > kPageLimitMax) {
    err = "field 'limit' must be 1-" + std::to_string(kPageLimitMax);
    return false;
  }
  return true;
}

void ChatCore::op_sync(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "since", "limit"})) return;
  if (!require_auth(c, rid)) return;
  uint64_t since = 0, limit = 0;
  std::string err;
  if (!proto::json_opt_u64(req, "since", since, err) ||
      !page_limit(req, kSyncLimitDefault, limit, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  std::vector<StoredMessage> msgs;
  bool more = false;
  if (store_.sync(c.user_id, since, static_cast<uint32_t>(limit), msgs, more) != StoreStatus::Ok) {
    return respond_error(c, rid, "internal", store_.last_error());
  }
  respond_messages(c, rid, msgs, more, false);
}

void ChatCore::op_history(Conn& c, uint64_t rid, const cJSON* req) {
  if (!check_fields(c, rid, req, {"op", "rid", "peer", "before", "limit"})) return;
  if (!require_auth(c, rid)) return;
  std::string peer, err;
  uint64_t before = 0, limit = 0;
  if (!proto::json_get_string(req, "peer", peer, err) ||
      !proto::json_opt_u64(req, "before", before, err) ||
      !page_limit(req, kHistoryLimitDefault, limit, err)) {
    return respond_error(c, rid, "bad_request", err);
  }
  uint64_t peer_id;
  bool failed;
  if (!lookup_user(peer, peer_id, failed)) {
    if (failed) return respond_error(c, rid, "internal", store_.last_error());
    return respond_error(c, rid, "unknown_user", "no user named '" + peer + "'");
  }
  std::vector<StoredMessage> msgs;
  bool more = false;
  if (store_.history(c.user_id, peer_id, before, static_cast<uint32_t>(limit), msgs, more) !=
      StoreStatus::Ok) {
    return respond_error(c, rid, "internal", store_.last_error());
  }
  respond_messages(c, rid, msgs, more, true);
}

}  // namespace ferry::chat
