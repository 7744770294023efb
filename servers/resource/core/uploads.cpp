// ResdCore, upload level: UPLOAD_OPEN (ticket, registry, lanes), CHUNK dispatch, the
// ledger's actions turned into jobs and frames, job results, completion, cancel and expiry.
//
// One ChunkLedger per upload, keyed by the *ticket's* message id and bound to the ticket's
// user: nothing the client says names the upload. A connection names it by a slot, and an
// upload may be open on several connections at once (lanes, so a client can spread it over
// several TCP streams on a lossy link). One lane per connection: a re-OPEN on the same
// connection replaces that connection's slot; on another connection it adds a lane, up to
// max_lanes (the oldest goes first). A dropped slot's further CHUNKs get unknown_slot, which
// makes that client OPEN again if it is still alive. A chunk's ack goes to the lane it came
// in on; UPLOAD_DONE goes to every lane.
//
// A CHUNK costs one worker job that hashes the payload and, only if it matches, writes it
// (fused so the bytes are still in cache for the write, and one loop round trip instead of
// two). The ledger is then told both facts in order (on_chunk, then on_write_done for the
// Write action it emits). That is only sound because the core never dispatches a chunk the
// ledger would not write: it checks range and size first (ledger.check), answers durable
// duplicates from the ledger, and drops a duplicate of a chunk already at a worker or
// written-but-not-yet-durable (`busy`) — its ack is coming anyway.
#include <algorithm>
#include <cerrno>
#include <utility>

#include "proto/hex.h"
#include "proto/ticket.h"
#include "servers/resource/core/resd_core.h"

namespace ferry::resource {

using proto::UploadStatus;

namespace {

std::string clip(std::string s) {
  if (s.size() > proto::kMaxUploadMessageBytes) s.resize(proto::kMaxUploadMessageBytes);
  return s;
}

std::string hex(const proto::Sha256& h) {
  return proto::hex_encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

bool parse_sha(const std::string& text, proto::Sha256& out) {
  std::string raw;
  if (text.size() != 64 || !proto::hex_decode(text, raw) || raw.size() != 32) return false;
  for (char ch : text) {
    if (ch >= 'A' && ch <= 'F') return false;  // the ticket format says lowercase
  }
  std::copy(raw.begin(), raw.end(), out.begin());
  return true;
}

UploadStatus ticket_status(proto::TicketError e) {
  return e == proto::TicketError::Expired ? UploadStatus::TicketExpired : UploadStatus::BadTicket;
}

}  // namespace

void ResdCore::load_partial(const UploadMeta& meta, std::string_view blob, int64_t last_active_ms) {
  Upload u;
  u.meta = meta;
  u.phase = Phase::Active;
  u.last_active_ms = last_active_ms;
  u.disk_hash = meta.file_hash;
  std::string err;
  if (!blob.empty() && ChunkLedger::restore(blob, u.ledger, err)) {
    // A blob persisted before the upload was bound carries no hash; the meta is the truth.
    if (!u.ledger->bound() && meta.file_hash != proto::Sha256{}) u.ledger->bind(meta.file_hash);
    if (u.ledger->file_size() != meta.file_size || u.ledger->chunk_size() != meta.chunk_size ||
        u.ledger->file_hash() != meta.file_hash) {
      err = "ledger geometry differs from the upload's meta";
      u.ledger.reset();
    }
  } else if (!blob.empty()) {
    u.ledger.reset();
  }
  if (!u.ledger) {
    // Starting over is always safe: a chunk we do not claim is simply sent again.
    if (!blob.empty()) {
      log("upload " + std::to_string(meta.message_id) + ": " + err + "; starting it over");
    }
    u.ledger.emplace(meta.file_size, meta.chunk_size, meta.file_hash);
  }
  auto [it, fresh] = uploads_.insert_or_assign(meta.message_id, std::move(u));
  (void)fresh;
  drain(it->second, last_active_ms);  // a complete ledger asks for Verify at once
}

void ResdCore::load_done(uint64_t message_id, const DoneRecord& record) {
  done_[message_id] = record;
}

void ResdCore::load_outbox(uint64_t message_id, uint64_t size, const proto::Sha256& hash,
                           int64_t now_ms) {
  link_.notify_done(message_id, size, hex(hash), now_ms);
}

void ResdCore::send_state_error(Conn& c, uint32_t slot, UploadStatus status,
                                const std::string& message) {
  proto::UploadState s;
  s.slot = slot;
  s.status = status;
  s.message = clip(message);
  proto::encode_upload_state(c.out, s);
  mark_dirty(c);
}

void ResdCore::send_done(const Lane& who, const proto::UploadDone& done) {
  Conn* c = find(who.conn);
  if (!c || c->closing) return;
  proto::UploadDone d = done;
  d.slot = who.slot;
  d.message = clip(d.message);
  proto::encode_upload_done(c->out, d);
  mark_dirty(*c);
}

void ResdCore::on_upload_open(Conn& c, std::string_view body, int64_t now_ms) {
  proto::UploadOpen open;
  std::string err;
  if (!proto::decode_upload_open(body, open, err)) return fatal(c, "bad_frame", err);
  uint32_t slot = open.slot;
  if (c.slots.count(slot)) {
    return send_state_error(c, slot, UploadStatus::SlotInUse,
                            "slot " + std::to_string(slot) + " is already open on this connection");
  }
  if (c.slots.size() >= config_.max_slots) {
    return send_state_error(c, slot, UploadStatus::Internal,
                            "too many open uploads on this connection (limit " +
                                std::to_string(config_.max_slots) + ")");
  }
  proto::TicketClaims t;
  proto::TicketError te =
      proto::ticket_verify(open.ticket, config_.key, proto::TicketKind::Upload, now_ms, t);
  if (te != proto::TicketError::Ok) {
    return send_state_error(c, slot, ticket_status(te), proto::ticket_error_message(te));
  }
  // An empty hash is an unbound ticket: the client is sending before it knows the hash;
  // a bound ticket for the same upload follows and binds it (see issue_bind).
  proto::Sha256 hash{};
  bool unbound = t.sha256_hex.empty();
  if (!unbound && !parse_sha(t.sha256_hex, hash)) {
    return send_state_error(c, slot, UploadStatus::BadTicket, "the ticket's sha256 is malformed");
  }
  if (t.size > config_.max_file_size) {
    return send_state_error(c, slot, UploadStatus::TooLarge,
                            "file of " + std::to_string(t.size) + " bytes exceeds the limit of " +
                                std::to_string(config_.max_file_size));
  }
  uint64_t id = t.message_id;
  std::string what = "message " + std::to_string(id);
  if (cancelled_.count(id)) {
    return send_state_error(c, slot, UploadStatus::Cancelled,
                            "the upload of " + what + " was cancelled");
  }
  if (auto d = done_.find(id); d != done_.end()) {
    const DoneRecord& r = d->second;
    if (r.user_id != t.user_id) {
      return send_state_error(c, slot, UploadStatus::BadTicket,
                              "the upload of " + what + " belongs to another user");
    }
    if (r.file_size != t.size || (!unbound && r.file_hash != hash)) {
      return send_state_error(c, slot, UploadStatus::BadTicket,
                              "the ticket does not match the finished upload of " + what);
    }
    // Finished already: the state (everything held) and the verdict, and the slot is free.
    proto::UploadState s;
    s.slot = slot;
    s.chunk_size = r.chunk_size;
    s.file_size = r.file_size;
    s.total_chunks = proto::chunk_count(r.file_size, r.chunk_size);
    if (s.total_chunks > 0) s.held.push_back({0, s.total_chunks});
    proto::encode_upload_state(c.out, s);
    proto::UploadDone done;
    done.slot = slot;
    done.file_size = r.file_size;
    done.file_hash = r.file_hash;
    proto::encode_upload_done(c.out, done);
    return mark_dirty(c);
  }
  auto it = uploads_.find(id);
  if (it != uploads_.end()) {
    Upload& u = it->second;
    if (u.meta.user_id != t.user_id) {
      return send_state_error(c, slot, UploadStatus::BadTicket,
                              "the upload of " + what + " belongs to another user");
    }
    bool was_unbound = u.meta.file_hash == proto::Sha256{};
    if (u.meta.file_size != t.size || (!unbound && !was_unbound && u.meta.file_hash != hash)) {
      return send_state_error(c, slot, UploadStatus::BadTicket,
                              "the ticket does not match the upload of " + what);
    }
    if (u.phase == Phase::Deleting) {
      return send_state_error(c, slot, u.end_status,
                              "the upload of " + what + " is being deleted (" +
                                  proto::upload_status_name(u.end_status) + ")");
    }
    if (!unbound && was_unbound) {
      u.meta.file_hash = hash;  // a second, different bound ticket is refused from now on
      if (u.phase == Phase::Active) issue_bind(u);  // Creating: binds once the create lands
    }
    u.last_active_ms = now_ms;
    c.slots[slot] = id;
    if (u.phase == Phase::Creating) {
      u.waiters.push_back({c.id, slot});
      return;
    }
    return open_reply(u, {c.id, slot});
  }
  if (unbound) {
    if (std::optional<proto::Sha256> early = take_early_bind(id, now_ms)) {
      hash = *early;
      log("upload " + std::to_string(id) + ": bound by the chat server before its first OPEN");
    }
  }
  Upload u;
  u.meta.message_id = id;
  u.meta.user_id = t.user_id;
  u.meta.file_size = t.size;
  u.meta.chunk_size = proto::resd_chunk_size(t.size);
  u.meta.file_hash = hash;
  u.meta.created_ms = now_ms;
  u.last_active_ms = now_ms;
  u.phase = Phase::Creating;
  u.waiters.push_back({c.id, slot});
  c.slots[slot] = id;
  u.disk_hash = hash;
  Upload& ref = uploads_.emplace(id, std::move(u)).first->second;
  Job j;
  j.kind = JobKind::Create;
  j.message_id = id;
  j.meta = ref.meta;
  issue(ref, std::move(j));
}

// Writes the hash of a just-accepted bound ticket into the upload's meta; once that is on
// disk the ledger is bound and, if every chunk is already durable, verification starts.
void ResdCore::issue_bind(Upload& u) {
  Job j;
  j.kind = JobKind::Bind;
  j.message_id = u.meta.message_id;
  j.meta = u.meta;
  issue(u, std::move(j));
}

// Forgets lane `i`: its connection's slot no longer names the upload.
void ResdCore::drop_lane(Upload& u, size_t i) {
  Lane lane = u.lanes[i];
  u.lanes.erase(u.lanes.begin() + static_cast<ptrdiff_t>(i));
  if (Conn* c = find(lane.conn)) {
    auto s = c->slots.find(lane.slot);
    if (s != c->slots.end() && s->second == u.meta.message_id) c->slots.erase(s);
  }
}

// UPLOAD_DONE (ok or not) on every lane, which are then closed.
void ResdCore::send_done_to_lanes(Upload& u, const proto::UploadDone& done) {
  while (!u.lanes.empty()) {
    send_done(u.lanes.front(), done);
    drop_lane(u, 0);
  }
}

// The OPEN is accepted: `who` becomes a lane (replacing the slot its connection had for this
// upload, if any) and learns exactly what is durable.
void ResdCore::open_reply(Upload& u, Lane who) {
  Conn* c = find(who.conn);
  if (!c || c->closing) return;
  bool present = false;
  for (size_t i = 0; i < u.lanes.size();) {
    if (u.lanes[i] == who) {
      present = true;
      i++;
    } else if (u.lanes[i].conn == who.conn) {
      drop_lane(u, i);
    } else {
      i++;
    }
  }
  if (!present) {
    while (u.lanes.size() >= std::max<uint32_t>(config_.max_lanes, 1)) drop_lane(u, 0);
    u.lanes.push_back(who);
  }
  c->slots[who.slot] = u.meta.message_id;
  proto::encode_upload_state(c->out, u.ledger->upload_state(who.slot));
  mark_dirty(*c);
}

// A CHUNK_ACK from the ledger (durability over the whole upload, plus NACKs) goes to the lanes
// that brought the chunks it newly acknowledges or refuses: each lane's window then hears about
// its own sends. A lane that closed meanwhile is skipped (its client OPENs again).
void ResdCore::send_ack(Upload& u, proto::ChunkAck& ack) {
  const ChunkLedger& l = *u.ledger;
  std::vector<Lane> to;
  auto take = [&](uint64_t index) {
    auto it = u.ack_to.find(index);
    if (it == u.ack_to.end()) return;
    for (const Lane& lane : it->second) {
      if (std::find(to.begin(), to.end(), lane) == to.end()) to.push_back(lane);
    }
    u.ack_to.erase(it);
  };
  for (const proto::ChunkNack& n : ack.nacks) take(n.index);
  std::vector<uint64_t> durable;
  for (const auto& [index, lanes] : u.ack_to) {
    if (l.is_durable(index)) durable.push_back(index);
  }
  for (uint64_t index : durable) take(index);
  for (const Lane& lane : to) {
    Conn* c = find(lane.conn);
    if (!c || c->closing) continue;
    auto s = c->slots.find(lane.slot);
    if (s == c->slots.end() || s->second != u.meta.message_id) continue;
    ack.slot = lane.slot;
    proto::encode_chunk_ack(c->out, ack);
    mark_dirty(*c);
  }
}

void ResdCore::on_chunk(Conn& c, int64_t now_ms) {
  OwnedBody body = c.reader.take_body();
  take_chunk(c, std::move(body), c.reader.payload_sum(), now_ms);
}

// `computed` is the payload's checksum as the reader summed it while the bytes came in.
void ResdCore::take_chunk(Conn& c, OwnedBody body, const std::optional<proto::ChunkSum>& computed,
                          int64_t now_ms) {
  proto::Chunk ch;
  std::string err;
  if (!proto::decode_chunk(std::string_view(body.data, body.size), ch, err)) {
    return fatal(c, "bad_frame", err);
  }
  auto unknown_slot = [&] {
    proto::ChunkAck ack;
    ack.slot = ch.slot;
    ack.nacks.push_back({ch.index, proto::NackReason::UnknownSlot});
    proto::encode_chunk_ack(c.out, ack);
    mark_dirty(c);
  };
  auto s = c.slots.find(ch.slot);
  if (s == c.slots.end()) return unknown_slot();
  auto it = uploads_.find(s->second);
  if (it == uploads_.end()) {
    c.slots.erase(s);
    return unknown_slot();
  }
  Upload& u = it->second;
  if (u.phase == Phase::Creating) {
    // The client did not wait for UPLOAD_STATE (a fresh upload's chunks ride behind its OPEN,
    // docs/protocol-upload.md section 8). Held until the file exists; counted as queued, so
    // the connection's reads pause at the usual bound.
    uint64_t len = ch.payload.size();
    c.queued_bytes += len;
    queued_total_ += len;
    u.early.push_back({c.id, std::move(body), computed, len});
    return;
  }
  if (u.phase == Phase::Deleting) return unknown_slot();  // its DONE(error) is sent
  u.last_active_ms = now_ms;
  ChunkLedger& l = *u.ledger;
  uint64_t len = ch.payload.size();
  std::vector<Lane>& ack_to = u.ack_to[ch.index];
  if (std::find(ack_to.begin(), ack_to.end(), Lane{c.id, ch.slot}) == ack_to.end()) {
    ack_to.push_back({c.id, ch.slot});
  }
  if (l.check(ch.index, len) || u.phase != Phase::Active || l.is_durable(ch.index)) {
    // Refused (NACK), or already durable (ack again): the ledger answers without hashing.
    l.on_chunk(ch.index, len, ch.hash, ch.hash);
    return drain(u, now_ms);
  }
  if (!u.busy.insert(ch.index).second) return;  // a duplicate of a chunk on its way
  c.queued_bytes += len;
  queued_total_ += len;
  Job j;
  j.kind = JobKind::Chunk;
  j.message_id = u.meta.message_id;
  j.conn = c.id;
  j.index = ch.index;
  j.offset = ch.index * static_cast<uint64_t>(u.meta.chunk_size);
  j.claimed = ch.hash;
  j.computed = computed;
  j.payload_offset = static_cast<size_t>(ch.payload.data() - body.data);
  j.payload_len = len;
  j.body = std::move(body);
  issue(u, std::move(j));
}

// Gives back the queued bytes of the CHUNKs held while the file was being created, and takes
// them now (`take`: it exists) or drops them (the OPENs were answered with an error, or the
// upload is going; the client learns that from those answers).
void ResdCore::release_early(Upload& u, bool take, int64_t now_ms) {
  std::vector<EarlyChunk> early = std::exchange(u.early, {});
  for (EarlyChunk& e : early) {
    Conn* c = find(e.conn);
    if (c) c->queued_bytes -= std::min(c->queued_bytes, e.queued);
    queued_total_ -= std::min(queued_total_, e.queued);
    // Through the usual door: a slot dropped meanwhile gets unknown_slot, as it would have.
    if (take && c && !c->closing) take_chunk(*c, std::move(e.body), e.computed, now_ms);
  }
}

void ResdCore::issue(Upload& u, Job&& job) {
  u.jobs++;
  jobs_in_flight_++;
  jobs_.push_back(std::move(job));
}

// A job about a finished upload (no Upload counts it); on_job_done drops its result.
void ResdCore::issue_unowned(JobKind kind, uint64_t message_id) {
  Job j;
  j.kind = kind;
  j.message_id = message_id;
  jobs_in_flight_++;
  jobs_.push_back(std::move(j));
}

// Turns the ledger's actions into jobs and frames. Called after every ledger input.
void ResdCore::drain(Upload& u, int64_t now_ms) {
  ChunkLedger& l = *u.ledger;
  while (std::optional<LedgerAction> a = l.poll_action()) {
    switch (a->kind) {
      case LedgerAction::Kind::Write: {
        // The worker already wrote it (fused with the hash); report how that went.
        auto w = u.write_results.find(a->index);
        bool ok = w != u.write_results.end() && w->second;
        if (w != u.write_results.end()) u.write_results.erase(w);
        if (!ok) u.busy.erase(a->index);
        l.on_write_done(a->index, ok);
        break;
      }
      case LedgerAction::Kind::Persist: {
        Job j;
        j.kind = JobKind::Persist;
        j.message_id = u.meta.message_id;
        j.generation = a->generation;
        j.blob = std::move(a->blob);
        issue(u, std::move(j));
        break;
      }
      case LedgerAction::Kind::Ack: {
        std::erase_if(u.busy, [&](uint64_t i) { return l.is_durable(i); });
        send_ack(u, a->ack);
        maybe_progress(u, now_ms, false);
        break;
      }
      case LedgerAction::Kind::Verify: {
        u.phase = Phase::Verifying;
        Job j;
        j.kind = JobKind::Verify;
        j.message_id = u.meta.message_id;
        j.meta = u.meta;
        issue(u, std::move(j));
        break;
      }
      case LedgerAction::Kind::Done: {
        if (!a->ok) {
          begin_delete(u, UploadStatus::Corrupt,
                       "all chunks arrived but the file's SHA-256 differs from the ticket's "
                       "(did the source change?); the data was discarded",
                       now_ms);
          break;
        }
        u.phase = Phase::Finalizing;
        Job j;
        j.kind = JobKind::Finalize;
        j.message_id = u.meta.message_id;
        j.meta = u.meta;
        issue(u, std::move(j));
        break;
      }
    }
  }
}

uint64_t ResdCore::durable_bytes(const Upload& u) const {
  const ChunkLedger& l = *u.ledger;
  uint64_t bytes = l.durable_chunks() * static_cast<uint64_t>(l.chunk_size());
  uint64_t total = l.total_chunks();
  if (total > 0 && l.is_durable(total - 1)) {
    bytes -= l.chunk_size() - proto::chunk_length(l.file_size(), l.chunk_size(), total - 1);
  }
  return bytes;
}

void ResdCore::maybe_progress(Upload& u, int64_t now_ms, bool force) {
  if (!config_.link_enabled || !link_.ready() || !u.ledger) return;
  uint64_t done = durable_bytes(u);
  if (done == u.progress_sent) return;
  if (!force && u.progress_sent != UINT64_MAX &&
      now_ms - u.progress_sent_ms < config_.progress_interval_ms) {
    // Throttled: the sweep sends it when the interval is up.
    next_retry_ms_ = std::min(next_retry_ms_, u.progress_sent_ms + config_.progress_interval_ms);
    return;
  }
  link_.progress(u.meta.message_id, done, u.meta.file_size);
  u.progress_sent = done;
  u.progress_sent_ms = now_ms;
}

void ResdCore::begin_delete(Upload& u, UploadStatus why, const std::string& message,
                            int64_t now_ms) {
  (void)now_ms;
  if (u.phase == Phase::Deleting) return;
  log("upload " + std::to_string(u.meta.message_id) + ": " + proto::upload_status_name(why) +
      ", deleting its partial data");
  u.phase = Phase::Deleting;
  u.end_status = why;
  proto::UploadDone d;
  d.status = why;
  d.message = message;
  send_done_to_lanes(u, d);
  u.ack_to.clear();
  for (const Lane& w : u.waiters) {
    if (Conn* c = find(w.conn)) {
      c->slots.erase(w.slot);
      send_state_error(*c, w.slot, why, message);
    }
  }
  u.waiters.clear();
  u.retry.reset();
  u.delete_pending = true;
  finish_job(u);  // issues the Delete now if nothing is in flight
}

// After a job of `u` finished (or when a delete is requested): a pending Delete goes out
// once nothing else of the upload is in flight, so no write lands after it.
void ResdCore::finish_job(Upload& u) {
  if (!u.delete_pending || u.jobs != 0) return;
  u.delete_pending = false;
  Job j;
  j.kind = JobKind::Delete;
  j.message_id = u.meta.message_id;
  j.meta = u.meta;
  issue(u, std::move(j));
}

void ResdCore::on_chunk_done(Upload& u, JobResult& r, int64_t now_ms) {
  if (u.phase != Phase::Active) {
    u.busy.erase(r.index);
    return;
  }
  if (r.computed == r.claimed) {
    u.write_results[r.index] = r.ok;
    if (r.ok) note_written(u, r.length);
    if (!r.ok) {
      log("upload " + std::to_string(u.meta.message_id) + ": chunk " + std::to_string(r.index) +
          " not written: " + r.message);
    }
  } else {
    u.busy.erase(r.index);
  }
  u.ledger->on_chunk(r.index, r.length, r.claimed, r.computed);
  drain(u, now_ms);
}

// Issues a Flush of the upload's data file once flush_every_bytes were written since the
// last one, or an eighth of the file if that is less (at least kMinFlushBytes): one at a
// time, so a slow disk is not asked to sync ever more often. Not when every chunk is in: the
// sync before READY comes next anyway.
//
// Why an eighth: the sync before READY pays for whatever is not flushed yet, and READY
// waits for it. For a 64 MiB upload that was never flushed that sync took 55 ms here (the
// host writing the O_DIRECT data back), against the ~60 ms the last chunk's ack and READY
// are apart in all; an eighth leaves ~8 MiB to it.
void ResdCore::note_written(Upload& u, uint64_t bytes) {
  if (config_.flush_every_bytes == 0) return;
  constexpr uint64_t kMinFlushBytes = 4u << 20;
  uint64_t every = std::min(config_.flush_every_bytes,
                            std::max(kMinFlushBytes, u.meta.file_size / 8));
  u.unflushed += bytes;
  if (u.flushing || u.unflushed < every) return;
  if (u.ledger->durable_chunks() + u.busy.size() >= u.ledger->total_chunks()) return;
  u.flushing = true;
  u.unflushed = 0;
  Job j;
  j.kind = JobKind::Flush;
  j.message_id = u.meta.message_id;
  issue(u, std::move(j));
}

void ResdCore::on_job_done(JobResult&& r, int64_t now_ms) {
  if (jobs_in_flight_ > 0) jobs_in_flight_--;
  if (r.kind == JobKind::Unnotify || r.kind == JobKind::Discard) return;  // no upload's
  if (r.kind == JobKind::Chunk) {
    if (Conn* c = find(r.conn)) c->queued_bytes -= std::min(c->queued_bytes, r.length);
    queued_total_ -= std::min(queued_total_, r.length);
  }
  auto it = uploads_.find(r.message_id);
  if (it == uploads_.end()) return;  // Unnotify, or nothing left to update
  Upload& u = it->second;
  if (u.jobs > 0) u.jobs--;
  std::string id = std::to_string(r.message_id);
  switch (r.kind) {
    case JobKind::Create:
      if (u.phase != Phase::Creating) {  // cancelled meanwhile; the Delete follows
        release_early(u, false, now_ms);
        break;
      }
      if (!r.ok) {
        release_early(u, false, now_ms);  // the OPENs' answers say why
        UploadStatus st = r.error == ENOSPC ? UploadStatus::DiskFull : UploadStatus::Internal;
        std::string msg = r.error == ENOSPC
                              ? "the server is out of disk space; OPEN again later"
                              : "the server could not create the upload: " + r.message;
        log("upload " + id + ": create failed: " + r.message);
        for (const Lane& w : u.waiters) {
          if (Conn* c = find(w.conn)) {
            c->slots.erase(w.slot);
            send_state_error(*c, w.slot, st, msg);
          }
        }
        uploads_.erase(it);  // the store removed what it had made
        return;
      }
      u.phase = Phase::Active;
      u.ledger.emplace(u.meta.file_size, u.meta.chunk_size, u.disk_hash);
      for (const Lane& w : u.waiters) open_reply(u, w);
      u.waiters.clear();
      if (u.meta.file_hash != u.disk_hash) issue_bind(u);  // bound while it was being created
      drain(u, now_ms);  // an empty file is complete at once
      release_early(u, true, now_ms);
      break;
    case JobKind::Chunk:
      on_chunk_done(u, r, now_ms);
      break;
    case JobKind::Persist:
      if (u.phase == Phase::Deleting) break;
      if (!r.ok) {
        log("upload " + id + ": persist failed (" + r.message + "); retrying");
        Job j;
        j.kind = JobKind::Persist;
        j.message_id = r.message_id;
        j.generation = r.generation;
        j.blob = std::move(r.blob);
        u.retry = std::move(j);
        u.retry_at_ms = now_ms + config_.retry_ms;
        next_retry_ms_ = std::min(next_retry_ms_, u.retry_at_ms);
        break;
      }
      u.last_active_ms = now_ms;
      u.ledger->on_persisted(r.generation);
      drain(u, now_ms);
      break;
    case JobKind::Bind:
      if (u.phase != Phase::Active) break;
      if (!r.ok) {
        // Unbound again: the client's next OPEN with its bound ticket tries once more.
        log("upload " + id + ": binding its hash failed (" + r.message + ")");
        u.meta.file_hash = u.disk_hash;
        break;
      }
      u.disk_hash = u.meta.file_hash;
      u.ledger->bind(u.meta.file_hash);
      drain(u, now_ms);  // complete already: verify now
      break;
    case JobKind::Verify:
      if (u.phase != Phase::Verifying) break;
      if (!r.ok) log("upload " + id + ": whole-file hash mismatch: " + r.message);
      u.ledger->on_verified(r.ok);
      drain(u, now_ms);
      break;
    case JobKind::Finalize:
      if (u.phase != Phase::Finalizing) break;
      if (!r.ok) {
        log("upload " + id + ": finalize failed (" + r.message + "); retrying");
        Job j;
        j.kind = JobKind::Finalize;
        j.message_id = r.message_id;
        j.meta = u.meta;
        u.retry = std::move(j);
        u.retry_at_ms = now_ms + config_.retry_ms;
        next_retry_ms_ = std::min(next_retry_ms_, u.retry_at_ms);
        break;
      }
      return on_finalized(u, r.duplicate, now_ms);
    case JobKind::Delete:
      uploads_.erase(it);
      return;
    case JobKind::Flush:
      // Only a head start for the sync before READY, which reports any real failure.
      u.flushing = false;
      if (!r.ok) log("upload " + id + ": flush failed: " + r.message);
      break;
    case JobKind::Unnotify:
    case JobKind::Discard:
      break;
  }
  finish_job(u);
}

void ResdCore::on_finalized(Upload& u, bool duplicate, int64_t now_ms) {
  const UploadMeta& m = u.meta;
  DoneRecord d;
  d.user_id = m.user_id;
  d.file_size = m.file_size;
  d.chunk_size = m.chunk_size;
  d.file_hash = m.file_hash;
  done_[m.message_id] = d;
  log("upload " + std::to_string(m.message_id) + ": done, " + std::to_string(m.file_size) +
      " bytes, sha256 " + hex(m.file_hash));
  // The Finalize job wrote the outbox record; the link sends it now and after every reconnect.
  link_.notify_done(m.message_id, m.file_size, hex(m.file_hash), now_ms);
  proto::UploadDone done;
  done.file_size = m.file_size;
  done.file_hash = m.file_hash;
  send_done_to_lanes(u, done);
  if (duplicate) {
    // Freeing the duplicate's blocks takes as long as the file is big (0.27 s for 1 GiB on
    // ext4 here), so it happens after READY is on its way, not inside Finalize.
    issue_unowned(JobKind::Discard, m.message_id);
  }
  uploads_.erase(m.message_id);
}

void ResdCore::cancel(uint64_t message_id, int64_t now_ms) {
  cancelled_.insert(message_id);
  auto it = uploads_.find(message_id);
  if (it == uploads_.end()) return;  // nothing here (never started, or long gone): a no-op
  Upload& u = it->second;
  if (u.phase == Phase::Verifying || u.phase == Phase::Finalizing) {
    // Every byte is here and verified or being verified; finishing is cheaper than racing the
    // rename, and chatd answers the upload_done with the message's real (cancelled) status.
    log("upload " + std::to_string(message_id) + ": cancel arrived while finishing; ignored");
    return;
  }
  begin_delete(u, UploadStatus::Cancelled, "the upload was cancelled", now_ms);
}

// The chat server bound the hash of an upload sent "hash later" (its bind_hash op), over the
// authenticated link: the same as an OPEN with the bound ticket, without waiting for the
// client to send one. Unknown, finished or already bound uploads ignore it.
void ResdCore::bind_from_chat(uint64_t message_id, const std::string& sha256_hex,
                              int64_t now_ms) {
  proto::Sha256 hash;
  if (!parse_sha(sha256_hex, hash)) return;
  auto it = uploads_.find(message_id);
  if (it == uploads_.end()) {
    // Not OPENed here yet: chatd pushes the bind as it answers the client's bind_hash, which
    // can overtake the client's first OPEN (sent with the unbound ticket) on a long path.
    // Dropped, it left the upload unbound until the client's verdict deadline ran out and it
    // OPENed again (60 s after the last chunk; docs/benchmarks.md, session 14). Remembered
    // for a while instead (a bounded list: chatd pushes every bind to every resd it has).
    if (done_.count(message_id) || cancelled_.count(message_id)) return;
    while (!early_binds_.empty() && (early_binds_.size() >= kMaxEarlyBinds ||
                                     now_ms - early_binds_.front().at_ms > config_.early_bind_ttl_ms)) {
      early_binds_.pop_front();
    }
    early_binds_.push_back({message_id, hash, now_ms});
    return;
  }
  Upload& u = it->second;
  if (u.meta.file_hash != proto::Sha256{} || u.phase == Phase::Deleting) return;
  u.meta.file_hash = hash;
  if (u.phase == Phase::Active) issue_bind(u);  // Creating: binds once the create lands
}

// The hash chatd bound for `message_id` before its upload was OPENed here, if it is recent.
std::optional<proto::Sha256> ResdCore::take_early_bind(uint64_t message_id, int64_t now_ms) {
  for (auto it = early_binds_.begin(); it != early_binds_.end(); ++it) {
    if (it->message_id != message_id) continue;
    EarlyBind b = *it;
    early_binds_.erase(it);
    if (now_ms - b.at_ms > config_.early_bind_ttl_ms) return std::nullopt;
    return b.hash;
  }
  return std::nullopt;
}

// Periodic work: retries of failed Persist/Finalize jobs, throttled progress, expiry.
void ResdCore::sweep(int64_t now_ms) {
  bool expiry = now_ms >= next_sweep_ms_;
  next_retry_ms_ = kNoTimeout;
  for (auto& [id, u] : uploads_) {
    if (u.retry) {
      if (now_ms >= u.retry_at_ms) {
        Job j = std::move(*u.retry);
        u.retry.reset();
        issue(u, std::move(j));
      } else {
        next_retry_ms_ = std::min(next_retry_ms_, u.retry_at_ms);
      }
    }
    if (u.phase == Phase::Active) maybe_progress(u, now_ms, false);
    if (expiry && u.phase == Phase::Active && now_ms - u.last_active_ms >= config_.upload_ttl_ms) {
      begin_delete(u, UploadStatus::Expired,
                   "the upload was idle for longer than the server keeps incomplete uploads; "
                   "start over",
                   now_ms);
    }
  }
  if (expiry) {
    // Checking a few times per TTL bounds how late an expiry is, at O(uploads) per check.
    int64_t every = std::clamp<int64_t>(config_.upload_ttl_ms / 8, 10, 60000);
    next_sweep_ms_ = now_ms + every;
  }
}

void ResdCore::drain_link(int64_t now_ms) {
  LinkEvent e;
  while (link_.poll_event(e)) {
    switch (e.kind) {
      case LinkEvent::Kind::Cancel:
        cancel(e.message_id, now_ms);
        break;
      case LinkEvent::Kind::Bind:
        bind_from_chat(e.message_id, e.text, now_ms);
        break;
      case LinkEvent::Kind::DoneAcked:
        issue_unowned(JobKind::Unnotify, e.message_id);
        break;
      case LinkEvent::Kind::Log:
        log(e.text);
        break;
    }
  }
}

}  // namespace ferry::resource
