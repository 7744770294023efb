// UploadManager, part 1: the per-upload lifecycle and everything on the chat connection
// (send_media, upload_ticket, cancel_upload, status pushes). The resource connection is in
// upload_resource.cpp. See upload_manager.h for the state machine.
#include "sdk/core/upload_manager.h"

#include <algorithm>
#include <utility>

#include "proto/json.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

// Message ids of finished uploads remembered to recognise late pushes about them.
constexpr size_t kFinishedKept = 4096;

}  // namespace

UploadManager::UploadManager(UploadManagerConfig config, StateStore& store, RandomSource random)
    : config_(std::move(config)),
      store_(store),
      random_(std::move(random)),
      rbackoff_(config_.retry_min_ms, config_.retry_max_ms, random_),
      decoder_(config_.max_frame_body),
      heartbeat_ms_(config_.heartbeat_ms),
      controller_([this] {
        // resd keeps an upload open on at most 16 connections; the window numbers lanes
        // below 64.
        config_.max_lanes = std::clamp<uint32_t>(config_.max_lanes, 1, 16);
        LaneControllerConfig c = config_.lanes;
        c.max_lanes = config_.max_lanes;
        return c;
      }()) {
  lanes_.resize(config_.max_lanes);
}

UploadManager::~UploadManager() = default;

void UploadManager::load(uint64_t now) {
  for (PendingUpload& rec : store_.uploads()) {
    if (rec.paused) {  // ferry.h: an upload is not paused after an app restart
      rec.paused = false;
      store_.upload_put(rec);
    }
    add(std::move(rec), now);
  }
}

void UploadManager::submit(const PendingUpload& u, uint64_t now) {
  if (find(u.cid)) return;
  add(u, now);
}

void UploadManager::add(PendingUpload rec, uint64_t now) {
  (void)now;
  auto u = std::make_unique<Upload>(std::move(rec),
                                    Backoff(config_.retry_min_ms, config_.retry_max_ms, random_));
  // A restart announces again even when the message id is known: send_media is idempotent
  // by cid and answers with the message's current status and a fresh ticket.
  u->phase = u->rec.prepared() ? Phase::Announce : Phase::Prepare;
  // Hashed before it was announced: the send_media carries the hash. Otherwise (hash later,
  // or hashed after the announce) the announce's answer says whether the server has it.
  u->bound = !u->rec.sha256.empty() && u->rec.message_id == 0;
  uploads_.push_back(std::move(u));
}

UploadManager::Upload* UploadManager::find(const std::string& cid) const {
  for (const auto& u : uploads_) {
    if (u->rec.cid == cid) return u.get();
  }
  return nullptr;
}

UploadManager::Upload* UploadManager::find_message(uint64_t id) const {
  if (id == 0) return nullptr;
  for (const auto& u : uploads_) {
    if (u->rec.message_id == id) return u.get();
  }
  return nullptr;
}

bool UploadManager::owns_cid(const std::string& cid) const { return find(cid) != nullptr; }

bool UploadManager::poll_own_send(OwnSend& out) {
  if (own_sends_.empty()) return false;
  out = std::move(own_sends_.front());
  own_sends_.pop_front();
  return true;
}

void UploadManager::save(const Upload& u) { store_.upload_put(u.rec); }

bool UploadManager::pause(const std::string& cid) {
  Upload* u = find(cid);
  if (!u) return false;
  u->rec.paused = true;
  save(*u);
  if (u->slot && window_) window_->pause(u->slot);
  return true;
}

bool UploadManager::resume(const std::string& cid) {
  Upload* u = find(cid);
  if (!u) return false;
  u->rec.paused = false;
  save(*u);
  if (u->slot && window_) window_->resume(u->slot);
  return true;
}

bool UploadManager::cancel(const std::string& cid, uint64_t now) {
  (void)now;
  Upload* u = find(cid);
  if (!u) return false;
  if (u->rec.cancelled) return true;
  u->rec.cancelled = true;
  save(*u);
  release_slot(*u);
  if (u->chat_rid != 0) return true;  // decided when its answer arrives
  if (u->rec.message_id == 0) {
    // The server never stored the message: nothing to tell anyone but the app.
    finish(*u, FERRY_MSG_CANCELLED, FERRY_OK, "cancelled");
    return true;
  }
  u->phase = Phase::Cancel;
  return true;
}

void UploadManager::drop_all(int err, const std::string& detail) {
  while (!uploads_.empty()) {
    Upload& u = *uploads_.front();
    if (!u.reported) emit_status(u, FERRY_MSG_FAILED, err, detail);
    u.reported = true;
    finish(u, FERRY_MSG_FAILED, err, detail);
  }
  rids_.clear();
  own_sends_.clear();
}

// --- Chat side -------------------------------------------------------------------------------

bool UploadManager::next_chat_request(uint64_t rid, std::string& body) {
  for (auto& p : uploads_) {
    Upload& u = *p;
    if (u.chat_rid != 0) continue;
    if (u.phase == Phase::Announce) {
      body = wire::send_media_body(rid, u.rec);
      u.chat_op = ChatOp::SendMedia;
    } else if (u.phase == Phase::Ticket) {
      body = wire::upload_ticket_body(rid, u.rec.message_id);
      u.chat_op = ChatOp::Ticket;
    } else if (u.phase == Phase::Cancel) {
      body = wire::cancel_upload_body(rid, u.rec.message_id);
      u.chat_op = ChatOp::Cancel;
    } else if (u.bind_needed && u.rec.message_id != 0 && u.phase != Phase::Prepare &&
               u.phase != Phase::Retry) {
      body = wire::bind_hash_body(rid, u.rec.message_id, u.rec.sha256);
      u.chat_op = ChatOp::Bind;
      u.bind_needed = false;
    } else {
      continue;
    }
    u.chat_rid = rid;
    rids_[rid] = u.rec.cid;
    return true;
  }
  return false;
}

void UploadManager::on_chat_online(uint64_t now) {
  (void)now;
  // A READY push sent while we were offline is lost: ask again (send_media is idempotent).
  // A bind_hash whose answer was lost goes again (it is idempotent too). What a request that
  // rode behind the auth settles is not asked again: its answer comes on this connection (a
  // send_media's settles both; a bind_hash's the bind).
  for (auto& u : uploads_) {
    if (u->phase == Phase::WaitReady) u->phase = Phase::Announce;
    bool bind_on_its_way = u->chat_op == ChatOp::SendMedia || u->chat_op == ChatOp::Bind;
    if (!u->bound && !u->rec.sha256.empty() && !bind_on_its_way) u->bind_needed = true;
  }
}

void UploadManager::set_resource_hint(const std::string& address, uint64_t now) {
  if (raddr_granted_ || address.empty() || address == raddr_) return;
  move_resource(address, now);  // the stored hint was stale: the chat server's word wins
}

// Another resource server address: the connection to the old one is left, and the next
// pump_resource dials the new one at once (nothing failed, so no backoff).
void UploadManager::move_resource(const std::string& address, uint64_t now) {
  if (rphase_ != RPhase::Idle) {
    drop_resource(FERRY_OK, "resource server moved", now, true);
    rphase_ = RPhase::Idle;
    rbackoff_.reset();
  }
  raddr_ = address;
}

void UploadManager::after_chat_requests(uint64_t now) { pump_resource(now); }

void UploadManager::on_chat_offline() {
  // Answers on the dead connection never come; the same request goes out after reconnecting.
  for (auto& u : uploads_) {
    u->chat_rid = 0;
    u->chat_op = ChatOp::None;
  }
  rids_.clear();
}

void UploadManager::on_chat_response(uint64_t rid, bool ok, const cJSON* body, int err,
                                     const std::string& code, const std::string& msg,
                                     uint64_t now) {
  auto it = rids_.find(rid);
  if (it == rids_.end()) return;
  Upload* u = find(it->second);
  rids_.erase(it);
  if (!u || u->chat_rid != rid) return;  // finished meanwhile
  ChatOp op = std::exchange(u->chat_op, ChatOp::None);
  u->chat_rid = 0;
  if (!ok) return on_chat_error(*u, op, err, code, msg, now);
  switch (op) {
    case ChatOp::SendMedia:
      return on_announced(*u, body, now);
    case ChatOp::Ticket:
      return on_grant(*u, cJSON_GetObjectItemCaseSensitive(body, "upload"), now);
    case ChatOp::Cancel:
      return finish(*u, FERRY_MSG_CANCELLED, FERRY_OK, "cancelled");
    case ChatOp::Bind:
      return on_bound(*u, body, now);
    case ChatOp::None:
      return;
  }
}

void UploadManager::on_announced(Upload& u, const cJSON* body, uint64_t now) {
  Message m;
  std::string why;
  if (!wire::parse_message(cJSON_GetObjectItemCaseSensitive(body, "message"), m, why) ||
      m.cid != u.rec.cid) {
    return retry_later(u, Phase::Announce, now);  // a server bug; do not spin
  }
  if (u.rec.message_id != m.id) {
    u.rec.message_id = m.id;
    save(u);
  }
  own_sends_.push_back(OwnSend{u.rec.cid, u.rec.to, m.id, u.rec.created_ms});
  if (m.status == FERRY_MSG_READY) return finish(u, FERRY_MSG_READY, FERRY_OK, "");
  // Hash later: the server has no hash yet although we know it (hashed meanwhile, or before
  // an app restart): bind it. A hash from the server means bound (the ticket says it too).
  // This also settles a bind asked for by on_chat_online before the answer came.
  u.bound = !m.media.sha256.empty();
  u.bind_needed = !u.bound && !u.rec.sha256.empty();
  if (m.status == FERRY_MSG_CANCELLED) return finish(u, FERRY_MSG_CANCELLED, FERRY_OK, "");
  if (m.status == FERRY_MSG_FAILED) {
    return finish(u, FERRY_MSG_FAILED, FERRY_ECORRUPT, "the server failed the upload");
  }
  if (u.rec.cancelled) {
    u.phase = Phase::Cancel;
    return;
  }
  if (!u.uploading_reported) {
    u.uploading_reported = true;
    if (!u.reported) emit_status(u, FERRY_MSG_UPLOADING, FERRY_OK, "");
  }
  if (u.upload_done) {  // verified by the resource server; READY is on its way
    u.phase = Phase::WaitReady;
    u.ready_poll_at = now + config_.ready_poll_ms;
    return;
  }
  on_grant(u, cJSON_GetObjectItemCaseSensitive(body, "upload"), now);
}

void UploadManager::on_grant(Upload& u, const cJSON* grant, uint64_t now) {
  if (u.rec.cancelled) {
    u.phase = Phase::Cancel;
    return;
  }
  wire::UploadGrant g;
  std::string why;
  if (!wire::parse_upload_grant(grant, g, why)) return retry_later(u, Phase::Announce, now);
  u.ticket = g.ticket;
  u.resource = g.resource;
  // The chat server hands out the latest resource address; follow it.
  if (raddr_ != g.resource) move_resource(g.resource, now);
  raddr_granted_ = true;
  u.phase = Phase::Open;
  pump_resource(now);
}

// bind_hash answered: READY (instant send: this sender stored these bytes before; the
// resource server drops the partial) or the bound ticket, which every later OPEN carries. The
// chat server told the resource server already, so nothing needs re-opening now.
void UploadManager::on_bound(Upload& u, const cJSON* body, uint64_t now) {
  (void)now;
  Message m;
  wire::UploadGrant g;
  std::string why;
  // A malformed answer is a server bug: not asked again at once (no spinning), but after the
  // next reconnect or when the verdict is overdue, like a transient error (on_chat_error).
  if (wire::parse_message(cJSON_GetObjectItemCaseSensitive(body, "message"), m, why)) {
    if (m.status == FERRY_MSG_READY) return finish(u, FERRY_MSG_READY, FERRY_OK, "");
    if (wire::parse_upload_grant(cJSON_GetObjectItemCaseSensitive(body, "upload"), g, why)) {
      u.ticket = g.ticket;
      u.bound = true;
    }
  }
  cancel_if_asked(u);
}

// A cancel asked while another request of this upload was in flight waits for its answer
// (UploadManager::cancel); an answer that does not end the upload lets it go out now.
void UploadManager::cancel_if_asked(Upload& u) {
  if (u.rec.cancelled) u.phase = Phase::Cancel;
}

void UploadManager::on_chat_error(Upload& u, ChatOp op, int err, const std::string& code,
                                  const std::string& msg, uint64_t now) {
  if (u.rec.cancelled && op != ChatOp::Cancel && code != "not_uploading") {
    return cancel_if_asked(u);
  }
  if (op == ChatOp::Bind) {
    if (code == "hash_conflict") {
      // The server holds another hash for this message than the file has now.
      return fail_and_cancel(u, FERRY_ESOURCECHANGED, msg, now);
    }
    if (code != "not_uploading" && code != "unknown_message") {
      // Transient (a store error, no resource server): asked again after the next reconnect
      // or when the verdict is overdue (check_answer_deadlines).
      return;
    }
  }
  if (code == "no_resource_server") {
    emit_progress(u, u.rec.done, now, true, FERRY_ENORESOURCE, msg);
    return retry_later(u, op == ChatOp::Ticket ? Phase::Ticket : Phase::Announce, now);
  }
  if (code == "not_uploading") {
    // Ready, cancelled or failed meanwhile: announcing again tells which.
    u.phase = Phase::Announce;
    return;
  }
  if (code == "unknown_message") {
    if (op == ChatOp::Cancel) return finish(u, FERRY_MSG_CANCELLED, FERRY_OK, "");
    return finish(u, FERRY_MSG_FAILED, FERRY_ENOTFOUND, msg);
  }
  if (err == FERRY_ESERVER || err == FERRY_ENOTAUTH) {
    Phase again = op == ChatOp::Ticket ? Phase::Ticket
                  : op == ChatOp::Cancel ? Phase::Cancel
                                         : Phase::Announce;
    return retry_later(u, again, now);
  }
  // unknown_user, bad_media, cid_conflict: retrying cannot help.
  finish(u, FERRY_MSG_FAILED, err, msg);
}

bool UploadManager::on_status_push(uint64_t message_id, int status, uint64_t now) {
  (void)now;
  Upload* u = find_message(message_id);
  if (!u) return finished_.count(message_id) != 0;
  if (status == FERRY_MSG_READY) finish(*u, FERRY_MSG_READY, FERRY_OK, "");
  if (status == FERRY_MSG_CANCELLED) finish(*u, FERRY_MSG_CANCELLED, FERRY_OK, "cancelled");
  if (status == FERRY_MSG_FAILED) {
    finish(*u, FERRY_MSG_FAILED, FERRY_ECORRUPT, "the server failed the upload");
  }
  return true;
}

bool UploadManager::on_progress_push(uint64_t message_id) const {
  return find_message(message_id) != nullptr || finished_.count(message_id) != 0;
}

// --- Files -----------------------------------------------------------------------------------

std::optional<PrepareJob> UploadManager::poll_prepare() {
  for (auto& u : uploads_) {
    if (u->phase != Phase::Prepare || u->prepare_requested) continue;
    u->prepare_requested = true;
    const PendingUpload& r = u->rec;
    bool later = config_.hash_later_min_bytes != 0 && r.size >= config_.hash_later_min_bytes;
    return PrepareJob{r.cid, r.path, r.kind, r.size, r.mtime_ns, r.inode, !later, true};
  }
  return std::nullopt;
}

std::optional<PrepareJob> UploadManager::poll_hash() {
  for (auto& u : uploads_) {
    const PendingUpload& r = u->rec;
    if (!r.prepared() || !r.sha256.empty() || r.cancelled || u->hash_requested) continue;
    u->hash_requested = true;
    return PrepareJob{r.cid, r.path, r.kind, r.size, r.mtime_ns, r.inode, true, false};
  }
  return std::nullopt;
}

void UploadManager::on_hashed(const std::string& cid, const PrepareResult& r, uint64_t now) {
  Upload* u = find(cid);
  if (!u || u->rec.cancelled || !u->rec.sha256.empty()) return;
  // The file changed or went away while it was read: the server must never keep it.
  if (r.status != FERRY_OK) return fail_and_cancel(*u, r.status, r.detail, now);
  u->rec.sha256 = r.sha256;
  save(*u);
  // Not yet announced (or the announce is on its way): the send_media or its answer binds it.
  if (u->rec.message_id != 0 && !u->bound) u->bind_needed = true;
}

void UploadManager::on_prepared(const std::string& cid, const PrepareResult& r, uint64_t now) {
  Upload* u = find(cid);
  if (!u || u->phase != Phase::Prepare) return;
  if (r.status != FERRY_OK) return finish(*u, FERRY_MSG_FAILED, r.status, r.detail);
  PendingUpload& rec = u->rec;
  rec.sha256 = r.sha256;  // "" for hash later
  u->bound = !rec.sha256.empty();
  rec.mime = r.mime;
  rec.kind = r.kind;
  rec.width = r.width;
  rec.height = r.height;
  rec.duration_ms = r.duration_ms;
  rec.thumb = r.thumb;
  save(*u);
  u->phase = Phase::Announce;
  // PENDING with the media filled in: the app can show the thumbnail (and the hash, unless
  // it comes later) now.
  emit_status(*u, FERRY_MSG_PENDING, FERRY_OK, "");
  (void)now;
}

std::optional<std::string> UploadManager::poll_file_close() {
  if (file_close_.empty()) return std::nullopt;
  std::string cid = std::move(file_close_.front());
  file_close_.pop_front();
  return cid;
}

// --- Endings and events ----------------------------------------------------------------------

void UploadManager::retry_later(Upload& u, Phase then, uint64_t now) {
  u.phase = Phase::Retry;
  u.after_retry = then;
  u.retry_at = now + u.backoff.next_delay_ms();
}

void UploadManager::fail_and_cancel(Upload& u, int err, const std::string& detail,
                                    uint64_t now) {
  emit_status(u, FERRY_MSG_FAILED, err, detail);
  u.reported = true;
  release_slot(u);
  if (u.rec.message_id == 0 && u.chat_rid == 0) return finish(u, FERRY_MSG_FAILED, err, detail);
  // The server must forget the partial file (and never store a changed one): cancel it,
  // durably, so a restart finishes the job. Nothing more is reported to the app.
  u.rec.cancelled = true;
  save(u);
  if (u.chat_rid == 0) u.phase = Phase::Cancel;
  (void)now;
}

void UploadManager::finish(Upload& u, int status, int err, const std::string& detail) {
  if (status == FERRY_MSG_READY && !u.reported &&
      (!u.progress_emitted || u.progress_done != u.rec.size)) {
    emit_progress(u, u.rec.size, u.progress_ms, true);
  }
  if (!u.reported) emit_status(u, status, err, detail);
  release_slot(u);
  if (u.chat_rid != 0) rids_.erase(u.chat_rid);
  store_.upload_remove(u.rec.cid);
  file_close_.push_back(u.rec.cid);
  if (u.rec.message_id != 0) {
    finished_.insert(u.rec.message_id);
    if (finished_.size() > kFinishedKept) finished_.erase(finished_.begin());
  }
  std::erase_if(uploads_, [&](const std::unique_ptr<Upload>& p) { return p.get() == &u; });
}

Message UploadManager::message_of(const Upload& u, int status) const {
  Message m;
  m.id = u.rec.message_id;
  m.cid = u.rec.cid;
  m.from = user_;
  m.to = u.rec.to;
  m.kind = u.rec.prepared() ? wire::media_kind_name(u.rec.kind) : "file";
  m.status = status;
  m.has_media = true;
  MediaMeta& x = m.media;
  x.kind = u.rec.kind == FERRY_KIND_AUTO ? FERRY_KIND_FILE : u.rec.kind;
  x.name = u.rec.name;
  x.size = u.rec.size;
  x.mime = u.rec.mime;
  x.sha256 = u.rec.sha256;
  x.width = u.rec.width;
  x.height = u.rec.height;
  x.duration_ms = u.rec.duration_ms;
  x.thumb = u.rec.thumb;
  x.progress = status == FERRY_MSG_READY ? u.rec.size : u.rec.done;
  return m;
}

void UploadManager::emit_status(const Upload& u, int status, int err, const std::string& detail) {
  Event e;
  e.type = FERRY_EVENT_MESSAGE_STATUS;
  e.status = err;
  e.detail = detail;
  e.message = message_of(u, status);
  events_.push_back(std::move(e));
}

// Own progress: at most every progress_interval_ms or 1% of the file, plus the first after
// each (re)open (the resume point) and the final one. `err` reports a condition that does
// not fail the upload (disk_full, no resource server) with the bytes unchanged.
void UploadManager::emit_progress(Upload& u, uint64_t done, uint64_t now, bool force, int err,
                                  const std::string& detail) {
  uint64_t step = std::max<uint64_t>(1, u.rec.size / 100);
  bool first = !u.progress_emitted;
  bool moved = done != u.progress_done;
  bool final = done == u.rec.size && moved;
  bool due = first || final || (moved && (now >= u.progress_ms + config_.progress_interval_ms ||
                                          done >= u.progress_done + step));
  if (!force && !due) return;
  u.progress_emitted = true;
  u.progress_ms = now;
  u.progress_done = done;
  if (done != u.rec.done) {
    u.rec.done = done;
    store_.upload_set_done(u.rec.cid, done);
  }
  Event e;
  e.type = FERRY_EVENT_UPLOAD_PROGRESS;
  e.status = err;
  e.detail = detail;
  e.message.cid = u.rec.cid;
  e.message.id = u.rec.message_id;
  e.done = done;
  e.total = u.rec.size;
  e.outgoing = true;
  events_.push_back(std::move(e));
}

bool UploadManager::poll_event(Event& out) {
  if (events_.empty()) return false;
  out = std::move(events_.front());
  events_.pop_front();
  return true;
}

}  // namespace ferry::sdk
