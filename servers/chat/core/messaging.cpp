// ChatCore, messaging: send with group commit and idempotent retries, sync, history, pushes.
//
// A send is validated at once and joins batch_; flush() stores the whole batch in one
// transaction and only then answers and pushes, in id order. So an acknowledged message is
// always durable, and a busy server pays one commit per loop iteration, not per message.
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
  auto key = std::make_pair(c.user_id, cid);
  auto it = batch_by_cid_.find(key);
  if (it != batch_by_cid_.end()) {
    // A retry of a send that is still in this batch: it shares the original's fate.
    const NewMessage& orig = batch_[it->second];
    if (orig.receiver != receiver || orig.text != text) {
      return respond_error(c, rid, "cid_conflict", "cid '" + cid + "' names another message");
    }
    waiters_.push_back(Waiter{c.id, rid, it->second, true});
    c.pending_sends++;
    return;
  }
  batch_by_cid_.emplace(std::move(key), batch_.size());
  waiters_.push_back(Waiter{c.id, rid, batch_.size(), false});
  batch_.push_back(NewMessage{c.user_id, receiver, std::move(cid), "text", std::move(text)});
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
    bool duplicate = w.duplicate || o.result == PutResult::Duplicate;
    std::string fields = "\"message\":" + json[w.index] +
                         (duplicate ? ",\"duplicate\":true" : ",\"duplicate\":false");
    respond_raw_ok(*c, w.rid, fields);
  }
}

// Pushes to every connection of the receiver and of the sender, except the connection the
// send came from (it gets the RESPONSE). For a note-to-self both sets are the same user.
void ChatCore::push_message(const StoredMessage& m, ConnId origin, const std::string& json) {
  std::string body = "{\"event\":\"message\",\"message\":" + json + "}";
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

std::string ChatCore::message_json(const StoredMessage& m) {
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "id", m.id);
  proto::json_set_string(j.get(), "cid", m.cid);
  proto::json_set_string(j.get(), "from", user_name(m.sender));
  proto::json_set_string(j.get(), "to", user_name(m.receiver));
  proto::json_set_string(j.get(), "kind", m.kind);
  proto::json_set_string(j.get(), "text", m.text);
  proto::json_set_i64(j.get(), "ts", m.ts);
  return proto::json_print(j.get());
}

void ChatCore::respond_messages(Conn& c, uint64_t rid, const std::vector<StoredMessage>& msgs,
                                bool more) {
  std::string fields = "\"messages\":[";
  for (size_t i = 0; i < msgs.size(); i++) {
    if (i) fields += ',';
    fields += message_json(msgs[i]);
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
  respond_messages(c, rid, msgs, more);
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
  respond_messages(c, rid, msgs, more);
}

}  // namespace ferry::chat
