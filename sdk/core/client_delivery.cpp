// ClientCore, part 3: getting messages to the app exactly once and in server order (sync,
// pushes, dedup by id) and getting the outbox to the server (sends, acknowledgements).
//
// The invariant: last_seen_ is the highest id delivered to the app, and a message is
// delivered only if its id is above it. While a sync runs, pushes are buffered, because the
// sync may still return messages older than them; once the last page is in, the buffer is
// delivered in id order and the same rule drops whatever the sync already returned.
#include <algorithm>
#include <utility>

#include "proto/json.h"
#include "sdk/core/client_core.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

void ClientCore::start_sync(uint64_t now) {
  if (!config_.receive) {
    Event e;
    e.type = FERRY_EVENT_SYNCED;
    emit(std::move(e));
    return resend_outbox(now);
  }
  syncing_ = true;
  sync_buffer_.clear();
  uint64_t rid = new_rid();
  send_request(rid, Kind::Sync, wire::sync_body(rid, last_seen_, config_.sync_page),
               {Kind::Sync, {}, {}}, now);
}

void ClientCore::on_sync_response(bool ok, const cJSON* body, int err, const std::string& msg,
                                  uint64_t now) {
  if (phase_ != Phase::Online) {  // logged out or switching user meanwhile
    syncing_ = false;
    return;
  }
  if (!ok) return go_offline(err, "sync failed: " + msg, now, true);
  std::vector<Message> page;
  bool more = false;
  std::string why;
  if (!wire::parse_messages(body, page, more, why)) {
    return protocol_failure("bad sync answer: " + why, now);
  }
  uint64_t prev = 0;
  for (Message& m : page) {
    if (m.id <= prev) return protocol_failure("sync page not in ascending id order", now);
    prev = m.id;
    deliver(std::move(m));
  }
  if (more && !page.empty()) {
    uint64_t rid = new_rid();
    send_request(rid, Kind::Sync, wire::sync_body(rid, last_seen_, config_.sync_page),
                 {Kind::Sync, {}, {}}, now);
    return;
  }
  finish_sync(now);
}

void ClientCore::finish_sync(uint64_t now) {
  syncing_ = false;
  std::vector<Message> buffered = std::exchange(sync_buffer_, {});
  std::stable_sort(buffered.begin(), buffered.end(),
                   [](const Message& a, const Message& b) { return a.id < b.id; });
  for (Message& m : buffered) deliver(std::move(m));
  Event e;
  e.type = FERRY_EVENT_SYNCED;
  emit(std::move(e));
  resend_outbox(now);
}

void ClientCore::handle_push(std::string_view body, uint64_t now) {
  proto::Json j = proto::json_parse(body);
  std::string event, why;
  if (!j || !proto::json_get_string(j.get(), "event", event, why)) {
    return protocol_failure("bad PUSH: " + (j ? why : std::string("not JSON")), now);
  }
  if (event == "status" || event == "progress") return handle_media_push(event, j.get(), now);
  if (event != "message") return;  // a newer server's event this client does not know
  Message m;
  if (!wire::parse_message(cJSON_GetObjectItemCaseSensitive(j.get(), "message"), m, why)) {
    return protocol_failure("bad message PUSH: " + why, now);
  }
  on_message_push(std::move(m), now);
}

void ClientCore::on_message_push(Message m, uint64_t) {
  if (!config_.receive || phase_ != Phase::Online) return;
  if (syncing_)
    sync_buffer_.push_back(std::move(m));
  else
    deliver(std::move(m));
}

void ClientCore::deliver(Message m) {
  if (m.id <= last_seen_) return;  // already delivered (sync and push overlap)
  // Before last_seen_ moves: an upload that just learnt its id (and may have ended at once, as
  // an instant send does) must be on record when that very id comes in.
  note_own_uploads();
  last_seen_ = m.id;
  // Our own upload's echo: still uploading (owns_cid), or ended and kept in the outbox below.
  if (m.from == session_.user && uploads_.owns_cid(m.cid)) return;
  if (m.has_media) remember_media(m);
  bool own = m.from == session_.user;
  auto it = own ? outbox_by_cid_.find(m.cid) : outbox_by_cid_.end();
  if (own && it != outbox_by_cid_.end()) {
    // Our own send coming back (its answer was lost with a connection): an acknowledgement,
    // not a new message. Already-acknowledged ones were reported when the answer came.
    if (it->second->entry.server_id == 0) acknowledge(*it->second, std::move(m));
  } else {
    Event& e = emit_new();
    e.type = FERRY_EVENT_MESSAGE;
    e.message = std::move(m);
  }
  prune_acked();
}

// Media messages this client sent, as the upload manager learns their ids: kept like
// acknowledged texts (outbox entries with server_id set, no text; persisted, never re-sent)
// until the sync position passes them, so a sync after the upload ended - even after an app
// restart - recognises them as our own and does not deliver them (docs/sdk.md: own sends never arrive as MESSAGE).
void ClientCore::note_own_uploads() {
  UploadManager::OwnSend s;
  while (uploads_.poll_own_send(s)) {
    // A send-only client leaves the sync position alone, and keeps no acked texts either.
    if (!config_.receive || s.message_id <= last_seen_ || outbox_by_cid_.count(s.cid)) continue;
    OutboxEntry e;
    e.cid = s.cid;
    e.to = s.to;
    e.created_ms = s.created_ms;
    e.server_id = s.message_id;  // stored already acknowledged: nothing to send
    store_.outbox_add(e);
    outbox_.push_back(OutboxItem{std::move(e), false});
    auto it = std::prev(outbox_.end());
    outbox_by_cid_[it->entry.cid] = it;
    acked_[s.message_id] = it->entry.cid;
    if (acked_.size() > kMaxAckedKept) remove_outbox(acked_.begin()->second);
  }
}

void ClientCore::submit_send(const OutboxEntry& entry, uint64_t now) {
  submit_send(OutboxEntry(entry), now);
}

void ClientCore::submit_send(OutboxEntry&& entry, uint64_t now) {
  // One lookup: the item goes in first, so the map's key can view its cid, and comes out
  // again if the cid is known already.
  outbox_.push_back(OutboxItem{std::move(entry), false});
  auto it = std::prev(outbox_.end());
  if (!outbox_by_cid_.try_emplace(it->entry.cid, it).second) {
    outbox_.pop_back();
    return;
  }
  // During a sync the send waits: the sync may prove it was stored already (after a restart
  // its cid can be in the outbox while the server holds it), and the outbox goes out after.
  if (phase_ == Phase::Online && !syncing_) send_outbox_item(*it, now);
}

void ClientCore::resend_outbox(uint64_t now) {
  if (phase_ != Phase::Online || syncing_) return;
  for (OutboxItem& item : outbox_) {
    if (item.entry.server_id == 0 && !item.in_flight) send_outbox_item(item, now);
  }
}

void ClientCore::send_outbox_item(OutboxItem& item, uint64_t now) {
  item.in_flight = true;
  uint64_t rid = new_rid();
  in_flight_.emplace(rid, InFlight{Kind::Send, {}, item.entry.cid});
  // send_request() and send_frame() inlined: the body is printed straight into the output
  // buffer behind a header filled in afterwards.
  size_t at = out_.size();
  out_.append(proto::kFrameHeaderBytes, '\0');
  wire::append_send_body(out_, rid, item.entry);
  uint8_t header[proto::kFrameHeaderBytes];
  proto::encode_frame_header(header, proto::FrameType::Request,
                             static_cast<uint32_t>(out_.size() - at - proto::kFrameHeaderBytes));
  out_.replace(at, proto::kFrameHeaderBytes, reinterpret_cast<const char*>(header),
               proto::kFrameHeaderBytes);
  last_send_ms_ = now;
}

void ClientCore::on_send_response(const InFlight& f, bool ok, const cJSON* body, int err,
                                  const std::string& msg, uint64_t now) {
  auto it = outbox_by_cid_.find(f.cid);
  if (it == outbox_by_cid_.end()) return;  // dropped by a logout meanwhile
  OutboxItem& item = *it->second;
  item.in_flight = false;
  if (ok) {
    Message m;
    std::string why;
    if (!wire::parse_message(cJSON_GetObjectItemCaseSensitive(body, "message"), m, why)) {
      return protocol_failure("bad send answer: " + why, now);
    }
    if (m.cid != f.cid) return protocol_failure("send answer for another cid", now);
    if (item.entry.server_id == 0) acknowledge(item, std::move(m));
    return;
  }
  if (err == FERRY_ESERVER || err == FERRY_ENOTAUTH) {
    // Nothing was stored; try again shortly (or after the next auth for ENOTAUTH).
    if (retry_at_ == 0) retry_at_ = now + config_.reconnect_min_ms;
    return;
  }
  Event e;
  e.type = FERRY_EVENT_MESSAGE_STATUS;
  e.status = err;
  e.detail = msg;
  e.message = message_from_outbox(item.entry, session_.user);
  e.message.status = FERRY_MSG_FAILED;
  emit(std::move(e));
  remove_outbox(f.cid);
}

// The fast path's (handle_response) and on_send_response's common end, for an answer whose
// message was read already.
void ClientCore::on_send_ok(const std::string& cid, Message m, uint64_t now) {
  auto it = outbox_by_cid_.find(cid);
  if (it == outbox_by_cid_.end()) return;  // dropped by a logout meanwhile
  OutboxItem& item = *it->second;
  item.in_flight = false;
  if (m.cid != cid) return protocol_failure("send answer for another cid", now);
  if (item.entry.server_id == 0) acknowledge(item, std::move(m));
}

void ClientCore::acknowledge(OutboxItem& item, Message m) {
  uint64_t id = m.id;
  item.entry.server_id = id;
  item.in_flight = false;
  Event& e = emit_new();
  e.type = FERRY_EVENT_MESSAGE_STATUS;
  e.message = std::move(m);
  e.message.status = FERRY_MSG_SENT;
  // remove_outbox() reads the cid only to find the item (it frees the item after).
  if (!config_.receive || id <= last_seen_) return remove_outbox(item.entry.cid);
  store_.outbox_mark_sent(item.entry, id);
  acked_[id] = item.entry.cid;
  if (acked_.size() > kMaxAckedKept) remove_outbox(acked_.begin()->second);
}

void ClientCore::remove_outbox(std::string_view cid) {
  auto it = outbox_by_cid_.find(cid);
  if (it == outbox_by_cid_.end()) return;
  auto item = it->second;
  if (item->entry.server_id != 0) acked_.erase(item->entry.server_id);
  // The map's key views the item's cid: the entry goes first.
  outbox_by_cid_.erase(it);
  store_.outbox_remove(item->entry);
  outbox_.erase(item);
}

void ClientCore::prune_acked() {
  while (!acked_.empty() && acked_.begin()->first <= last_seen_) {
    remove_outbox(acked_.begin()->second);
  }
}

void ClientCore::drop_outbox(int err, const std::string& detail) {
  for (const OutboxItem& item : outbox_) {
    if (item.entry.server_id != 0) continue;
    Event e;
    e.type = FERRY_EVENT_MESSAGE_STATUS;
    e.status = err;
    e.detail = detail;
    e.message = message_from_outbox(item.entry, session_.user);
    e.message.status = FERRY_MSG_FAILED;
    emit(std::move(e));
  }
  // The maps view the items' cids: they go first.
  outbox_by_cid_.clear();
  acked_.clear();
  outbox_.clear();
}

}  // namespace ferry::sdk
