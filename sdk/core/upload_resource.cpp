// UploadManager, part 2: the connections to the resource server that every upload shares
// (docs/protocol-upload.md): HELLO, UPLOAD_OPEN per upload, UPLOAD_STATE into the shared
// UploadWindow, chunk reads handed to the adapter, CHUNK_ACK, UPLOAD_DONE, heartbeats,
// reconnect with backoff. A reconnect of the primary connection (lane 0) starts a fresh
// window and re-OPENs every upload, so each resume is driven by what the server says it
// holds durably. The extra lanes are in upload_lanes.cpp.
#include <algorithm>
#include <utility>

#include "proto/hex.h"
#include "proto/json.h"
#include "sdk/core/upload_manager.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

// True while some upload has been granted a ticket and is not finished with the resource
// server: a ticket refresh or a disk_full retry keeps the connection (pings are cheaper than
// a new connection and a fresh window).
// Also while a send_media is on its way and the server's address is known (from an earlier
// grant, or the chat server's authentication answer): the connection is then up when the
// ticket comes.
bool UploadManager::needs_resource() const {
  return std::any_of(uploads_.begin(), uploads_.end(), [this](const auto& u) {
    Phase p = u->phase == Phase::Retry ? u->after_retry : u->phase;
    return p == Phase::Open || p == Phase::Opening || p == Phase::Sending ||
           p == Phase::Verifying || p == Phase::Ticket ||
           (u->phase == Phase::Announce && u->chat_op == ChatOp::SendMedia && !raddr_.empty());
  });
}

void UploadManager::pump_resource(uint64_t now) {
  if (!needs_resource()) {
    // Nothing to upload: let the connection go rather than keep it alive with pings.
    if (rphase_ == RPhase::Offline) rphase_ = RPhase::Idle;
    if (rphase_ != RPhase::Idle) {
      drop_resource(FERRY_OK, "idle", now, true);
      rphase_ = RPhase::Idle;
    }
    return;
  }
  if (rphase_ == RPhase::Idle) return dial(now);
  // A ticket that came while our HELLO is unanswered: its OPEN follows the HELLO at once
  // (resd answers HELLO before it reads the next frame), and on a long path the extra
  // lanes are dialed for it.
  if (rphase_ == RPhase::Greeting) {
    open_uploads(now);
    steer_lanes(now);
    return open_extra_lanes(now);  // lanes dialed with lane 0 take a presumed upload at once
  }
  if (rphase_ != RPhase::Ready) return;
  steer_lanes(now);  // may send uploads of a closed lane back to Open, OPENed below
  open_uploads(now);
  open_extra_lanes(now);
}

// OPENs every upload waiting for a slot, on lane 0. Also right behind our HELLO, before the
// server's answers it: resd reads a connection's frames in order, so the OPENs cost no round
// trip of their own and their UPLOAD_STATEs follow the server's HELLO.
void UploadManager::open_uploads(uint64_t now) {
  for (auto& p : uploads_) {
    Upload& u = *p;
    if (u.phase != Phase::Open) continue;
    uint32_t slot = next_slot_++;  // never reused, so a late frame for an old slot is known
    slots_[slot] = SlotRef{u.rec.cid, 0};
    u.lane_slots[0] = slot;
    proto::encode_upload_open(out_, proto::UploadOpen{slot, u.ticket});
    last_send_ms_ = now;
    u.phase = Phase::Opening;
    u.open_sent_ms = now;
    u.open_behind_chunks = window_ && window_->in_flight_bytes(0) > 0;
    u.open_tries++;
    arm_open_deadline(u);
    if (may_presume(u)) presume_state(u, slot, now);
  }
}

// A fresh upload (nothing known durable) need not wait a round trip for its UPLOAD_STATE:
// the server can hold nothing of it, or only what we would merely send twice (duplicates are
// harmless), and it cuts the file by proto::resd_chunk_size. So its chunks follow the OPEN
// at once, on a window entry made from that presumption; the server's answer then merges what
// it holds, or takes the upload back out (on_presumed_state). A resumed upload waits for the
// answer, which says what to skip, and so does an OPEN sent again because the first went
// unanswered.
bool UploadManager::may_presume(const Upload& u) const {
  return u.rec.done == 0 && u.rec.size > 0 && !u.rec.paused && !u.no_presume &&
         u.open_tries == 1;
}

// The window of a connection is made by the server's HELLO, or before it by a presumed OPEN;
// the lanes already connected join it.
void UploadManager::ensure_window() {
  if (window_) return;
  window_ = std::make_unique<UploadWindow>(config_.window);
  apply_pacing();
  for (uint32_t l = 1; l < lanes_.size(); l++) {
    if (lanes_[l].open()) window_->add_lane(l);
  }
}

void UploadManager::presume_state(Upload& u, uint32_t slot, uint64_t now) {
  ensure_window();
  proto::UploadState st;
  st.slot = slot;
  st.status = proto::UploadStatus::Ok;
  st.chunk_size = proto::resd_chunk_size(u.rec.size);
  st.file_size = u.rec.size;
  st.total_chunks = proto::chunk_count(u.rec.size, st.chunk_size);
  if (!window_->add_upload(st, now, 0)) return;
  u.slot = slot;
  u.presumed = true;
  u.durable_seen = 0;
  u.phase = Phase::Sending;
  u.progress_emitted = false;
}

// The server's UPLOAD_STATE for an OPEN whose chunks went out on a presumption.
void UploadManager::on_presumed_state(Upload& u, const proto::UploadState& st, uint64_t now) {
  u.presumed = false;
  u.open_tries = 0;
  if (st.status != proto::UploadStatus::Ok) {
    release_slot(u);  // the chunks behind the OPEN are NACKed unknown_slot, found by no one
    return on_upload_error(u, st.status, st.message, now);
  }
  if (st.file_size != u.rec.size) {
    return fail_and_cancel(u, FERRY_EPROTO, "resource server has another size for the file",
                           now);
  }
  if (st.chunk_size != proto::resd_chunk_size(u.rec.size) ||
      st.total_chunks != proto::chunk_count(u.rec.size, st.chunk_size)) {
    // Not the protocol's cut: our chunks are refused (their NACKs find no slot). OPEN again
    // and wait for the server's word this time.
    u.no_presume = true;
    release_slot(u);
    u.phase = Phase::Open;
    return;
  }
  u.backoff.reset();
  window_->merge_held(u.slot, st);
}

// An OPEN's answer may wait behind the chunks sent before it (answer_timeout_ms), but an OPEN
// on an idle connection, as on every new one, waits for nothing but resd: its heartbeats are
// the measure. The re-sent OPEN gets twice the time: an answer that is merely slow is not
// chased by ever more OPENs. Armed again when the server's HELLO answers: the OPENs that rode
// behind our HELLO were timed with our own heartbeat, and a server that asks for a shorter
// one would otherwise leave a lost answer waiting out ours (60 s, not 6 of its heartbeats).
void UploadManager::arm_open_deadline(Upload& u) {
  uint64_t t = uint64_t{config_.answer_deadline_heartbeats} * heartbeat_ms_;
  if (u.open_behind_chunks) t = answer_timeout_ms();
  uint32_t doublings = std::min<uint32_t>(u.open_tries > 0 ? u.open_tries - 1 : 0, 4);
  u.answer_deadline = u.open_sent_ms + (t << doublings);
}

// How long an OPEN may go unanswered (see UploadManagerConfig::answer_deadline_heartbeats).
uint64_t UploadManager::answer_timeout_ms() const {
  uint64_t t = uint64_t{config_.answer_deadline_heartbeats} * heartbeat_ms_;
  if (window_) t = std::max<uint64_t>(t, 2 * window_->rto_ms());
  return std::max<uint64_t>(t, 1);
}

// An OPEN with no UPLOAD_STATE, or a verified upload with no UPLOAD_DONE, past its deadline
// on a connection that is otherwise alive (resd lost the answer, a stuck worker, a proxy that
// drops frames): OPEN again under a fresh slot (a late answer for the old one is ignored);
// if the re-sent OPEN is unanswered too, start over on a new connection.
bool UploadManager::check_answer_deadlines(uint64_t now) {
  for (auto& p : uploads_) {
    Upload& u = *p;
    bool opening = u.awaiting_state();
    if (!opening && u.phase != Phase::Verifying) continue;
    if (now < u.answer_deadline) continue;
    if (opening && u.open_tries >= 2) {
      drop_resource(FERRY_ETIMEDOUT, "resource server: no answer to UPLOAD_OPEN", now, true);
      return false;
    }
    // No verdict because the server never learnt the hash (a bind_hash that failed): again.
    if (u.phase == Phase::Verifying && !u.bound && !u.rec.sha256.empty()) u.bind_needed = true;
    release_slot(u);
    u.phase = Phase::Open;
  }
  return true;
}

void UploadManager::dial(uint64_t now) {
  rphase_ = RPhase::Dialing;
  want_connect_ = true;
  last_recv_ms_ = now;  // the dial deadline counts from here
  // The chat server's host, so the chat connection's handshake timed this path already: on a
  // long one the lanes are dialed now, with lane 0 (docs/sdk.md, "Several connections").
  std::string host, port;
  wire::split_address(raddr_, host, port);
  if (chat_rtt_ms_ > 0 && !chat_ip_.empty() && host == chat_ip_) {
    on_path_rtt(chat_rtt_ms_);
    steer_lanes(now);
  }
}

void UploadManager::on_chat_path(const std::string& peer_ip, uint64_t rtt_us) {
  chat_ip_ = peer_ip;
  chat_rtt_ms_ = rtt_us / 1000;
}

void UploadManager::drop_resource(int err, const std::string& detail, uint64_t now,
                                  bool close_socket) {
  (void)err;
  (void)detail;
  bool had_socket = rphase_ == RPhase::Dialing || rphase_ == RPhase::Greeting ||
                    rphase_ == RPhase::Ready;
  want_close_ = want_close_ || (close_socket && had_socket);
  want_connect_ = false;
  // The extra lanes follow the primary: their sockets close too (a new primary connection
  // starts with one lane and a fresh window).
  for (uint32_t l = 1; l < lanes_.size(); l++) close_lane(l, now, true);
  controller_.reset(now);
  window_.reset();
  slots_.clear();
  jobs_.clear();
  out_.clear();
  for (auto& u : uploads_) {
    u->slot = 0;
    u->presumed = false;
    u->lane_slots.clear();
    u->refused = 0;
    u->open_tries = 0;  // a new connection, a new count
    if (u->phase == Phase::Opening || u->phase == Phase::Sending ||
        u->phase == Phase::Verifying) {
      u->phase = Phase::Open;
    }
  }
  rphase_ = RPhase::Offline;
  reconnect_at_ = now + rbackoff_.next_delay_ms();
}

// Forgets every slot of the upload on every lane, and the upload in the window.
void UploadManager::release_slot(Upload& u) {
  u.presumed = false;
  for (const auto& [lane, slot] : u.lane_slots) slots_.erase(slot);
  u.lane_slots.clear();
  u.refused = 0;
  if (u.slot == 0) return;
  uint32_t key = u.slot;
  u.slot = 0;  // unmapped first: the window's Cancelled event is then ignored
  if (window_) window_->cancel(key);
}

UploadManager::Upload* UploadManager::find_key(uint32_t key) const {
  if (key == 0) return nullptr;
  for (const auto& u : uploads_) {
    if (u->slot == key) return u.get();
  }
  return nullptr;
}

std::optional<std::string> UploadManager::poll_connect() {
  if (!std::exchange(want_connect_, false)) return std::nullopt;
  return raddr_;
}

bool UploadManager::poll_close() { return std::exchange(want_close_, false); }
std::string UploadManager::poll_send() { return std::exchange(out_, std::string()); }

void UploadManager::on_connected(uint64_t now) {
  if (rphase_ != RPhase::Dialing) return;
  rphase_ = RPhase::Greeting;
  decoder_ = proto::FrameDecoder(config_.max_frame_body);
  heartbeat_ms_ = config_.heartbeat_ms;
  last_recv_ms_ = now;
  send_frame(proto::FrameType::Hello, wire::hello_body(config_.agent), now);
  hello_sent_ms_ = now;
  open_uploads(now);  // in the same write: the server's HELLO is the round trip for both
  steer_lanes(now);  // on a path the handshake timed as long, the extra lanes now
}

void UploadManager::on_connect_failed(int err, const std::string& detail, uint64_t now) {
  if (rphase_ != RPhase::Dialing) return;
  drop_resource(err, detail, now, false);
}

void UploadManager::on_disconnected(int err, const std::string& detail, uint64_t now) {
  if (rphase_ == RPhase::Idle || rphase_ == RPhase::Offline) return;
  drop_resource(err, detail, now, false);
  pump_resource(now);
}

void UploadManager::send_frame(proto::FrameType type, std::string_view body, uint64_t now) {
  proto::encode_frame(out_, type, body);
  last_send_ms_ = now;
}

void UploadManager::on_bytes(const char* data, size_t len, uint64_t now) {
  if (rphase_ != RPhase::Greeting && rphase_ != RPhase::Ready) return;
  decoder_.feed(data, len);
  while (rphase_ == RPhase::Greeting || rphase_ == RPhase::Ready) {
    proto::Frame f;
    proto::DecodeStatus st = decoder_.next(f);
    if (st == proto::DecodeStatus::NeedMore) break;
    if (st != proto::DecodeStatus::Ready) {
      drop_resource(FERRY_EPROTO, "bad frame from resource server", now, true);
      break;
    }
    last_recv_ms_ = now;
    handle_frame(f, now);
  }
  drain_window(now);
  pump_resource(now);
}

void UploadManager::handle_frame(const proto::Frame& f, uint64_t now) {
  using proto::FrameType;
  std::string err;
  if (rphase_ == RPhase::Greeting) {
    proto::Json j = f.type == FrameType::Hello ? proto::json_parse(f.body) : nullptr;
    wire::ServerHello hello;
    if (!j || !wire::parse_hello(j.get(), hello, err) || hello.proto != proto::kProtocolVersion) {
      return drop_resource(FERRY_EPROTO, "bad HELLO from resource server", now, true);
    }
    if (hello.heartbeat_ms > 0 && hello.heartbeat_ms < heartbeat_ms_) {
      heartbeat_ms_ = static_cast<uint32_t>(std::max<uint64_t>(hello.heartbeat_ms, 100));
    }
    rphase_ = RPhase::Ready;
    // The path's round trip for the lane controller: the server answers HELLO before it
    // looks at the OPENs sent with it or after it.
    on_path_rtt(now - hello_sent_ms_);
    rbackoff_.reset();
    // Lanes dialed while we greeted (steer_lanes) join it. The controller was reset when
    // the previous connection dropped: resetting it here would close them again.
    ensure_window();
    for (auto& p : uploads_) {
      if (p->awaiting_state()) arm_open_deadline(*p);
    }
    return pump_resource(now);
  }
  switch (f.type) {
    case FrameType::UploadState: {
      proto::UploadState st;
      if (!proto::decode_upload_state(f.body, st, err)) break;
      return on_upload_state(st, now);
    }
    case FrameType::ChunkAck: {
      proto::ChunkAck ack;
      if (!proto::decode_chunk_ack(f.body, ack, err)) break;
      return on_chunk_ack(0, std::move(ack), now);
    }
    case FrameType::UploadDone: {
      proto::UploadDone d;
      if (!proto::decode_upload_done(f.body, d, err)) break;
      return on_upload_done(d, now);
    }
    case FrameType::Ping:
      return send_frame(FrameType::Pong, f.body, now);
    case FrameType::Pong:
      return;
    case FrameType::Error: {
      proto::Json j = proto::json_parse(f.body);
      bool fatal = true;
      if (j) proto::json_opt_bool(j.get(), "fatal", fatal, err);
      if (!fatal) return;
      return drop_resource(FERRY_ENOTCONN, "resource server closed the connection", now, true);
    }
    default:
      err = "unexpected frame";
      break;
  }
  drop_resource(FERRY_EPROTO, "resource server: " + err, now, true);
}

// UPLOAD_STATE on lane 0. The primary OPEN of an upload is always sent there.
void UploadManager::on_upload_state(const proto::UploadState& st, uint64_t now) {
  auto it = slots_.find(st.slot);
  if (it == slots_.end() || it->second.lane != 0) return;  // an upload that ended meanwhile
  Upload* u = find(it->second.cid);
  if (!u) return;
  if (u->presumed && st.slot == u->slot) return on_presumed_state(*u, st, now);
  if (u->phase != Phase::Opening) return on_lane_state(*u, 0, st, now);
  u->open_tries = 0;  // answered: the connection and resd are fine
  if (st.status != proto::UploadStatus::Ok) {
    release_slot(*u);
    return on_upload_error(*u, st.status, st.message, now);
  }
  if (st.file_size != u->rec.size) {
    return fail_and_cancel(*u, FERRY_EPROTO, "resource server has another size for the file",
                           now);
  }
  u->slot = st.slot;
  u->durable_seen = 0;
  window_->add_upload(st, now, 0);
  if (u->rec.paused) window_->pause(u->slot);
  u->phase = Phase::Sending;
  u->backoff.reset();
  u->progress_emitted = false;  // report the resume point
}

void UploadManager::on_upload_done(const proto::UploadDone& d, uint64_t now) {
  auto it = slots_.find(d.slot);
  if (it == slots_.end()) return;
  Upload* u = find(it->second.cid);
  slots_.erase(it);
  if (!u) return;
  // resd sends UPLOAD_DONE on every lane of the upload: the first one decides, the others
  // find no slot. The window usually forgot the upload already (Complete).
  release_slot(*u);
  if (d.status != proto::UploadStatus::Ok) return on_upload_error(*u, d.status, d.message, now);
  std::string hash(reinterpret_cast<const char*>(d.file_hash.data()), d.file_hash.size());
  if (d.file_size != u->rec.size || proto::hex_encode(hash) != u->rec.sha256) {
    return fail_and_cancel(*u, FERRY_ECORRUPT, "resource server stored another file", now);
  }
  u->upload_done = true;
  emit_progress(*u, u->rec.size, now, false);
  u->phase = Phase::WaitReady;
  u->ready_poll_at = now + config_.ready_poll_ms;
}

void UploadManager::on_upload_error(Upload& u, proto::UploadStatus st, const std::string& msg,
                                    uint64_t now) {
  using proto::UploadStatus;
  std::string detail = std::string("resource server: ") + proto::upload_status_name(st) +
                       (msg.empty() ? "" : " (" + msg + ")");
  switch (st) {
    case UploadStatus::TicketExpired:
    case UploadStatus::Expired:  // the partial file is gone: a fresh ticket starts over
      u.phase = Phase::Ticket;
      return;
    case UploadStatus::DiskFull:
      emit_progress(u, u.rec.done, now, true, FERRY_EDISKFULL, detail);
      return retry_later(u, Phase::Open, now);
    case UploadStatus::Internal:
      return retry_later(u, Phase::Open, now);
    case UploadStatus::SlotInUse:
    case UploadStatus::UnknownSlot:
      u.phase = Phase::Open;
      return;
    case UploadStatus::Corrupt:
      return finish(u, FERRY_MSG_FAILED, FERRY_ECORRUPT, detail);
    case UploadStatus::Cancelled:
      if (u.rec.cancelled) return finish(u, FERRY_MSG_CANCELLED, FERRY_OK, detail);
      // Not by this client: cancelled elsewhere, or dropped because bind_hash found the bytes
      // stored already (instant send: READY). The chat server's answer says which.
      u.phase = Phase::Announce;
      return;
    case UploadStatus::TooLarge:
      return fail_and_cancel(u, FERRY_EINVAL, detail, now);
    case UploadStatus::BadTicket:
    case UploadStatus::Ok:
      break;
  }
  fail_and_cancel(u, FERRY_EPROTO, detail, now);
}

void UploadManager::drain_window(uint64_t now) {
  while (window_) {
    std::optional<UploadEvent> e = window_->poll_event();
    if (!e) return;
    Upload* u = find_key(e->slot);
    if (!u) continue;  // released by us (cancel, failure, done)
    if (e->kind == UploadEventKind::Progress || e->kind == UploadEventKind::Complete) {
      // Goodput for the lane controller: what became durable, whichever lane carried it.
      // The first Progress after an OPEN is the resume point, not goodput.
      if (u->durable_seen != 0 && e->bytes_durable > u->durable_seen) {
        controller_.on_durable(e->bytes_durable - u->durable_seen);
      }
      u->durable_seen = std::max<uint64_t>({u->durable_seen, e->bytes_durable, 1});
    }
    switch (e->kind) {
      case UploadEventKind::Progress:
        emit_progress(*u, e->bytes_durable, now, false);
        break;
      case UploadEventKind::Complete:
        emit_progress(*u, e->bytes_durable, now, false);
        u->phase = Phase::Verifying;  // the slot stays mapped for UPLOAD_DONE
        // resd reads and hashes the whole file before it answers: allow 1 s per 32 MiB.
        u->answer_deadline = now + answer_timeout_ms() + u->rec.size / (32u << 10);
        break;
      case UploadEventKind::Failed:
        if (e->failure == UploadFailure::TooManyTimeouts) {
          return drop_resource(FERRY_ETIMEDOUT, e->detail, now, true);
        }
        u->slot = 0;  // the window forgot it already
        release_slot(*u);
        if (e->failure == UploadFailure::SlotLost) {
          u->phase = Phase::Open;
        } else {
          fail_and_cancel(*u, FERRY_EPROTO, e->detail, now);
        }
        break;
      case UploadEventKind::Cancelled:
        break;
    }
  }
}

std::optional<ReadJob> UploadManager::poll_read(uint64_t now) { return poll_read(now, 0); }

std::optional<ReadJob> UploadManager::poll_read(uint64_t now, uint32_t lane) {
  // Before the server's HELLO is in, only chunks behind a presumed OPEN (its window is made).
  if ((rphase_ != RPhase::Ready && rphase_ != RPhase::Greeting) || !window_) return std::nullopt;
  // An extra lane sends as soon as its HELLO and OPENs are queued (open_on_lane).
  if (lane != 0 &&
      (lane >= lanes_.size() || lanes_[lane].draining || !lanes_[lane].open())) {
    return std::nullopt;
  }
  std::optional<SendChunk> sc;
  Upload* u = nullptr;
  uint32_t wire = 0;
  while (!u) {
    sc = window_->poll_send(now, lane);
    if (!sc) return std::nullopt;
    u = find_key(sc->slot);
    if (u && u->lane_slots.count(lane)) {
      wire = u->lane_slots.at(lane);
    } else {
      // Cannot happen (attached implies a slot on the lane); never send under no slot.
      window_->detach(sc->slot, lane);
      u = nullptr;
    }
  }
  ReadJob job{next_job_++,  lane,        u->rec.cid,  u->rec.path,    sc->offset,
              sc->length,   u->rec.size, u->rec.mtime_ns, u->rec.inode};
  jobs_[job.id] = Job{u->rec.cid, lane, wire, sc->slot, sc->index, sc->length};
  counters_.chunks_sent++;
  counters_.chunk_bytes_sent += sc->length;
  if (sc->retransmit) counters_.chunks_retransmitted++;
  return job;
}

bool UploadManager::on_read_done(uint64_t job_id, int status, const std::string& detail,
                                 const proto::ChunkSum& hash,
                                 uint8_t prefix[proto::kChunkFramePrefixBytes], uint64_t now) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return false;  // the connection it was for is gone
  Job j = std::move(it->second);
  jobs_.erase(it);
  Upload* u = find(j.cid);
  if (!u || u->slot != j.key) return false;
  if (status != FERRY_OK) {
    fail_and_cancel(*u, status, detail, now);
    return false;
  }
  auto ls = u->lane_slots.find(j.lane);
  if (ls == u->lane_slots.end() || ls->second != j.slot) return false;  // lane went away
  proto::encode_chunk_prefix(prefix, j.slot, j.index, hash, j.length);
  if (j.lane == 0) {
    last_send_ms_ = now;
  } else {
    lanes_[j.lane].last_send_ms = now;
  }
  return true;
}

void UploadManager::handle_timeout(uint64_t now) {
  for (auto& u : uploads_) {
    if (u->phase == Phase::Retry && now >= u->retry_at) u->phase = u->after_retry;
    if (u->phase == Phase::WaitReady && now >= u->ready_poll_at) u->phase = Phase::Announce;
  }
  uint64_t dead_after = 3ull * heartbeat_ms_;
  switch (rphase_) {
    case RPhase::Offline:
      if (now >= reconnect_at_ && needs_resource()) dial(now);
      break;
    case RPhase::Dialing:
    case RPhase::Greeting:
      if (now - last_recv_ms_ >= dead_after) {
        drop_resource(FERRY_ETIMEDOUT, "resource server: connect timed out", now, true);
      }
      break;
    case RPhase::Ready:
      window_->handle_timeout(now);
      if (!check_answer_deadlines(now)) break;
      lane_timeouts(now);
      if (now - last_recv_ms_ >= dead_after) {
        drop_resource(FERRY_EIDLE, "resource server: nothing received", now, true);
      } else if (now - last_send_ms_ >= heartbeat_ms_) {
        send_frame(proto::FrameType::Ping, "", now);
      }
      break;
    case RPhase::Idle:
      break;
  }
  drain_window(now);
  pump_resource(now);
}

std::optional<uint64_t> UploadManager::poll_timeout() const {
  std::optional<uint64_t> t;
  auto consider = [&t](uint64_t at) { t = t ? std::min(*t, at) : at; };
  for (const auto& u : uploads_) {
    if (u->phase == Phase::Retry) consider(u->retry_at);
    if (u->phase == Phase::WaitReady) consider(u->ready_poll_at);
  }
  uint64_t dead_after = 3ull * heartbeat_ms_;
  switch (rphase_) {
    case RPhase::Offline:
      if (needs_resource()) consider(reconnect_at_);
      break;
    case RPhase::Dialing:
    case RPhase::Greeting:
      consider(last_recv_ms_ + dead_after);
      break;
    case RPhase::Ready:
      if (auto w = window_->poll_timeout()) consider(*w);
      for (const auto& u : uploads_) {
        if (u->awaiting_state() || u->phase == Phase::Verifying) {
          consider(u->answer_deadline);
        }
      }
      consider(last_recv_ms_ + dead_after);
      consider(last_send_ms_ + heartbeat_ms_);
      for (uint32_t l = 1; l < lanes_.size(); l++) {
        const Lane& x = lanes_[l];
        if (x.phase == RPhase::Idle) continue;
        consider(x.last_recv_ms + 3ull * x.heartbeat_ms);
        if (x.phase == RPhase::Ready) consider(x.last_send_ms + x.heartbeat_ms);
        if (x.draining) consider(x.drain_until);
      }
      if (auto c = controller_.poll_timeout()) consider(*c);
      break;
    case RPhase::Idle:
      break;
  }
  return t;
}

}  // namespace ferry::sdk
