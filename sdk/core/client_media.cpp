// ClientCore, part 4: media. Hands the app's upload commands to the UploadManager, sends the
// chat requests it asks for, and turns the chat server's `status` and `progress` pushes into
// events: for this client's own uploads the manager consumes them; for media it received (or
// that this user sent from another device) they become MESSAGE_STATUS and UPLOAD_PROGRESS
// events with outgoing = 0.
#include <algorithm>

#include "proto/json.h"
#include "sdk/core/client_core.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

void ClientCore::submit_upload(const PendingUpload& u, uint64_t now) {
  uploads_.submit(u, now);
  pump_uploads(now);
}

bool ClientCore::upload_pause(const std::string& cid, uint64_t now) {
  (void)now;
  return uploads_.pause(cid);
}

bool ClientCore::upload_resume(const std::string& cid, uint64_t now) {
  (void)now;
  return uploads_.resume(cid);
}

bool ClientCore::upload_cancel(const std::string& cid, uint64_t now) {
  bool ok = uploads_.cancel(cid, now);
  pump_uploads(now);
  return ok;
}

void ClientCore::pump_uploads(uint64_t now) {
  note_own_uploads();  // in the same store batch as the message id the upload just learnt
  // send_media needs an authenticated connection and nothing else: it does not wait for the
  // sync (our own media message in a sync is recognised by its cid and not delivered). Nor
  // for a stored session's auth answer: chatd reads a connection's requests in order and
  // checks a token at once, so the request rides right behind the auth and its answer
  // comes a round trip sooner. Should the token be refused, the request is answered
  // not_authenticated and goes again after the next login (UploadManager::on_chat_error).
  // Only a few ride so: chatd closes a connection after 32 errors in a row, and a refused
  // token would make one of each.
  bool online = phase_ == Phase::Online;
  if (!online && !session_auth_in_flight()) return;
  size_t riding = online ? 0
                         : static_cast<size_t>(std::count_if(
                               in_flight_.begin(), in_flight_.end(),
                               [](auto& kv) { return kv.second.kind == Kind::Media; }));
  std::string body;
  for (;;) {
    if (!online && riding >= kRequestsBehindAuth) break;
    uint64_t rid = next_rid_;
    if (!uploads_.next_chat_request(rid, body)) break;
    riding++;
    next_rid_++;
    send_request(rid, Kind::Media, body, InFlight{Kind::Media, {}, {}}, now);
  }
  uploads_.after_chat_requests(now);
}

void ClientCore::remember_media(const Message& m) {
  if (m.status != FERRY_MSG_UPLOADING) return;
  Message keep = m;
  keep.media.thumb.clear();  // up to 64 KiB each; events about it do not need it
  uploading_media_[m.id] = std::move(keep);
  if (uploading_media_.size() > kUploadingMediaKept) {
    uploading_media_.erase(uploading_media_.begin());
  }
}

void ClientCore::handle_media_push(const std::string& event, const cJSON* body, uint64_t now) {
  uint64_t id = 0;
  std::string why;
  if (!proto::json_get_u64(body, "message_id", id, why)) {
    return protocol_failure("bad " + event + " PUSH: " + why, now);
  }
  auto cached = uploading_media_.find(id);
  if (event == "progress") {
    uint64_t done = 0, total = 0;
    if (!proto::json_get_u64(body, "done", done, why) ||
        !proto::json_get_u64(body, "total", total, why)) {
      return protocol_failure("bad progress PUSH: " + why, now);
    }
    if (uploads_.on_progress_push(id) || !config_.receive) return;
    Event e;
    e.type = FERRY_EVENT_UPLOAD_PROGRESS;
    e.message.id = id;
    if (cached != uploading_media_.end()) {
      e.message.cid = cached->second.cid;
      cached->second.media.progress = done;
    }
    e.done = done;
    e.total = total;
    e.outgoing = false;
    return emit(std::move(e));
  }
  std::string status, from, to, sha256;
  if (!proto::json_get_string(body, "status", status, why)) {
    return protocol_failure("bad status PUSH: " + why, now);
  }
  proto::json_opt_string(body, "from", from, why);
  proto::json_opt_string(body, "to", to, why);
  proto::json_opt_string(body, "sha256", sha256, why);  // a "hash later" file learns it here
  int st = wire::message_status_from_name(status);
  if (uploads_.on_status_push(id, st, now) || !config_.receive || st == 0) return;
  Event e;
  e.type = FERRY_EVENT_MESSAGE_STATUS;
  if (cached != uploading_media_.end()) {
    e.message = cached->second;
    uploading_media_.erase(cached);
  } else {
    e.message.id = id;
    e.message.kind = "";
  }
  e.message.from = from;
  e.message.to = to;
  e.message.status = st;
  if (e.message.has_media && !sha256.empty()) e.message.media.sha256 = sha256;
  if (e.message.has_media && st == FERRY_MSG_READY) e.message.media.progress = e.message.media.size;
  emit(std::move(e));
}

}  // namespace ferry::sdk
