// UploadManager, part 3: the extra connections ("lanes") to the resource server (see
// upload_manager.h, "Lanes"). Lane 0 lives in upload_resource.cpp; here lanes 1.. are dialed
// and closed as the LaneController says, greeted, kept alive, and OPEN the uploads that
// still have chunks to send. Frames on a lane are handled as on lane 0, with the lane named
// so acks and NACKs are credited to it.
#include <algorithm>
#include <utility>

#include "proto/json.h"
#include "sdk/core/upload_manager.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

uint64_t bit(uint32_t lane) { return uint64_t{1} << lane; }

}  // namespace

LaneController::Inputs UploadManager::lane_inputs() const {
  LaneController::Inputs in;
  in.lanes_up = lanes_up();
  // The path's round trip, not the queue our window keeps in the socket buffers: with 32 MiB
  // in flight srtt grows to seconds and the intervals would never end on a slow link.
  in.srtt_ms = window_ ? window_->min_rtt_ms(0).value_or(0) : 0;
  in.waiting_chunks = window_ ? window_->remaining_chunks() : 0;
  in.chunk_bytes = window_ ? window_->chunk_size() : 0;
  for (const auto& p : uploads_) {
    // Also an announce on its way: its chunks are the work the lanes dialed for it will do.
    bool announcing = p->phase == Phase::Announce && p->chat_op == ChatOp::SendMedia;
    if (p->phase != Phase::Open && p->phase != Phase::Opening && !announcing) continue;
    uint32_t chunk = proto::resd_chunk_size(p->rec.size);
    in.waiting_chunks += proto::chunk_count(p->rec.size, chunk);
    if (in.chunk_bytes == 0) in.chunk_bytes = chunk;
  }
  return in;
}

uint32_t UploadManager::lanes_up() const {
  uint32_t n = rphase_ == RPhase::Ready ? 1 : 0;
  for (uint32_t l = 1; l < lanes_.size(); l++) n += lanes_[l].phase == RPhase::Ready;
  return n;
}

// Asks the controller how many lanes to run, then dials the missing ones and closes the
// newest surplus ones. Extra lanes follow the primary: only once lane 0 is up, or while it
// is still greeting on a path its handshake has timed (the long-path start then comes a
// round trip sooner, and the lanes are up when the first UPLOAD_STATE arrives).
void UploadManager::steer_lanes(uint64_t now) {
  // Greeting: lane 0's HELLO is out (the window comes with its answer).
  if (!lane_capable_ || lanes_.size() <= 1 ||
      (rphase_ != RPhase::Dialing && rphase_ != RPhase::Greeting && rphase_ != RPhase::Ready)) {
    return;
  }
  controller_.tick(now, lane_inputs());
  uint32_t want = std::min<uint32_t>(controller_.target(), static_cast<uint32_t>(lanes_.size()));
  for (uint32_t l = static_cast<uint32_t>(lanes_.size()) - 1; l >= 1; l--) {
    Lane& x = lanes_[l];
    if (l < want) {
      // Wanted again (the target rose while it drained): it takes chunks again. Left
      // draining, its drain deadline would stay due in poll_timeout() forever: a busy loop.
      x.draining = false;
      continue;
    }
    if (x.phase == RPhase::Idle) continue;
    // A surplus lane first drains: it takes no new chunks, and closes once its chunks in
    // flight are acked (closing at once would re-send them all on the other lanes), or
    // after two of its RTOs.
    if (x.phase == RPhase::Ready && window_ && window_->in_flight_chunks(l) > 0) {
      if (!x.draining) {
        x.draining = true;
        x.drain_until = now + 2 * window_->rto_ms(l);
      }
      if (now < x.drain_until) continue;
    }
    close_lane(l, now, true);
  }
  for (uint32_t l = 1; l < want; l++) {
    if (lanes_[l].phase == RPhase::Idle) dial_lane(l, now);
  }
}

void UploadManager::dial_lane(uint32_t lane, uint64_t now) {
  Lane& x = lanes_[lane];
  x.phase = RPhase::Dialing;
  x.want_connect = true;
  x.draining = false;
  x.last_recv_ms = now;  // the dial deadline counts from here
  x.last_send_ms = now;
  x.heartbeat_ms = config_.heartbeat_ms;
}

void UploadManager::close_lane(uint32_t lane, uint64_t now, bool close_socket) {
  (void)now;
  Lane& x = lanes_[lane];
  bool had_socket = x.phase != RPhase::Idle;
  x.want_close = x.want_close || (close_socket && had_socket);
  x.want_connect = false;
  x.phase = RPhase::Idle;
  x.draining = false;
  x.out.clear();
  std::erase_if(jobs_, [lane](const auto& kv) { return kv.second.lane == lane; });
  if (window_) window_->remove_lane(lane);  // its chunks in flight go back to the pools
  for (auto& p : uploads_) {
    Upload& u = *p;
    auto ls = u.lane_slots.find(lane);
    if (ls != u.lane_slots.end()) {
      slots_.erase(ls->second);
      u.lane_slots.erase(ls);
    }
    u.refused &= ~bit(lane);  // a new connection under this lane number is a new chance
    // An upload that was only on this lane (its slot on lane 0 was forgotten) starts over
    // on lane 0; resd's UPLOAD_STATE says what it holds.
    bool stranded = (u.phase == Phase::Sending && window_ && u.slot != 0 &&
                     window_->attached_lanes(u.slot) == 0) ||
                    (u.phase == Phase::Verifying && u.lane_slots.empty());
    if (stranded) {
      release_slot(u);
      u.phase = Phase::Open;
    }
  }
}

// OPENs every upload that still has chunks to send on every extra lane that is connected
// and has not refused it.
void UploadManager::open_extra_lanes(uint64_t now) {
  for (uint32_t l = 1; l < lanes_.size(); l++) {
    if (lanes_[l].open()) open_on_lane(l, now);
  }
}

// Also called right behind the lane's HELLO, in the same write. The upload joins the lane at
// once: its chunks follow the OPEN without waiting a round trip for UPLOAD_STATE, as resd
// reads a connection's frames in order and what it holds is known from lane 0 already. A
// refused OPEN gives the lane's chunks back (on_lane_state; their NACKs unknown_slot too).
void UploadManager::open_on_lane(uint32_t l, uint64_t now) {
  if (!window_ || !window_->has_lane(l)) return;
  Lane& x = lanes_[l];
  for (auto& p : uploads_) {
    Upload& u = *p;
    if (u.phase != Phase::Sending || u.slot == 0 || u.rec.paused) continue;
    if (u.lane_slots.count(l) || (u.refused & bit(l))) continue;
    const ChunkTracker* t = window_->tracker(u.slot);
    if (!t || t->complete()) continue;
    uint32_t slot = next_slot_++;
    slots_[slot] = SlotRef{u.rec.cid, l};
    u.lane_slots[l] = slot;
    proto::encode_upload_open(x.out, proto::UploadOpen{slot, u.ticket});
    x.last_send_ms = now;
    window_->attach(u.slot, l);
  }
}

// UPLOAD_STATE for an OPEN that added a lane to an upload already in the window.
void UploadManager::on_lane_state(Upload& u, uint32_t lane, const proto::UploadState& st,
                                  uint64_t now) {
  auto ls = u.lane_slots.find(lane);
  if (ls == u.lane_slots.end() || ls->second != st.slot) return;
  using proto::UploadStatus;
  if (st.status == UploadStatus::Ok) {
    if (st.file_size != u.rec.size) {
      return fail_and_cancel(u, FERRY_EPROTO, "resource server has another size for the file",
                             now);
    }
    if (!window_ || u.slot == 0) return;
    window_->attach(u.slot, lane);
    window_->merge_held(u.slot, st);
    return;
  }
  switch (st.status) {
    case UploadStatus::SlotInUse:
    case UploadStatus::UnknownSlot:
    case UploadStatus::Internal:
      // This lane cannot carry the upload; the others still do (and take its chunks back).
      if (window_ && u.slot != 0) window_->detach(u.slot, lane);
      slots_.erase(st.slot);
      u.lane_slots.erase(ls);
      u.refused |= bit(lane);
      return;
    default:
      release_slot(u);
      return on_upload_error(u, st.status, st.message, now);
  }
}

// A CHUNK_ACK on `lane`. A NACK unknown_slot while the upload still has other lanes only
// means this lane's slot is gone (resd dropped the lane): the upload leaves the lane and its
// chunks there go back to the pool. Everything else is the window's.
void UploadManager::on_chunk_ack(uint32_t lane, proto::ChunkAck ack, uint64_t now) {
  auto it = slots_.find(ack.slot);
  if (it == slots_.end() || it->second.lane != lane) return;
  Upload* u = find(it->second.cid);
  if (!u || u->slot == 0 || !window_) return;
  bool slot_lost = std::any_of(ack.nacks.begin(), ack.nacks.end(), [](const auto& n) {
    return n.reason == proto::NackReason::UnknownSlot;
  });
  if (slot_lost && window_->attached(u->slot, lane) && window_->attached_lanes(u->slot) > 1) {
    window_->detach(u->slot, lane);
    slots_.erase(it);
    u->lane_slots.erase(lane);
    u->refused |= bit(lane);
    std::erase_if(ack.nacks, [](const auto& n) {
      return n.reason == proto::NackReason::UnknownSlot;
    });
  }
  ack.slot = u->slot;
  window_->on_ack(ack, now, lane);
}

// --- The adapter's side, per lane ------------------------------------------------------------

std::optional<UploadManager::Dial> UploadManager::poll_connect_lane() {
  if (auto a = poll_connect()) return Dial{0, std::move(*a)};
  for (uint32_t l = 1; l < lanes_.size(); l++) {
    if (std::exchange(lanes_[l].want_connect, false)) return Dial{l, raddr_};
  }
  return std::nullopt;
}

std::optional<uint32_t> UploadManager::poll_close_lane() {
  if (poll_close()) return 0u;
  for (uint32_t l = 1; l < lanes_.size(); l++) {
    if (std::exchange(lanes_[l].want_close, false)) return l;
  }
  return std::nullopt;
}

std::string UploadManager::poll_send(uint32_t lane) {
  if (lane == 0) return poll_send();
  if (lane >= lanes_.size()) return {};
  return std::exchange(lanes_[lane].out, std::string());
}

void UploadManager::on_connected(uint32_t lane, uint64_t now) {
  if (lane == 0) return on_connected(now);
  if (lane >= lanes_.size() || lanes_[lane].phase != RPhase::Dialing) return;
  Lane& x = lanes_[lane];
  x.phase = RPhase::Greeting;
  x.decoder = proto::FrameDecoder(config_.max_frame_body);
  x.heartbeat_ms = config_.heartbeat_ms;
  x.last_recv_ms = now;
  x.last_send_ms = now;
  proto::encode_frame(x.out, proto::FrameType::Hello, wire::hello_body(config_.agent));
  x.hello_sent_ms = now;
  // A lane dialed while lane 0 was greeting joins the window when it is made.
  if (window_) window_->add_lane(lane);
  open_on_lane(lane, now);  // the OPENs, and then chunks, ride with the HELLO
}

void UploadManager::on_path_rtt(uint64_t rtt_ms) {
  controller_.on_path_rtt(rtt_ms);
  apply_pacing();
}

uint32_t UploadManager::lane_unsent_limit() const {
  std::optional<uint64_t> rtt = controller_.path_rtt_ms();
  uint64_t long_path = config_.lanes.long_path_rtt_ms;
  return long_path > 0 && rtt && *rtt >= long_path ? config_.paced_unsent_bytes : 0;
}

// The window's byte cap for the path: paced lanes get the larger one. The path only ever
// gets shorter (the controller keeps the smallest sample), so the cap may fall back too.
void UploadManager::apply_pacing() {
  if (!window_) return;
  window_->set_max_inflight_bytes(lane_unsent_limit() > 0 ? config_.paced_inflight_bytes
                                                          : config_.window.max_inflight_bytes);
}

void UploadManager::on_handshake_rtt(uint32_t lane, uint64_t rtt_us) {
  // Lane 0's is the first sample of a new connection; later lanes add nothing new.
  if (lane == 0 && rphase_ == RPhase::Dialing) on_path_rtt(rtt_us / 1000);
}

void UploadManager::on_connect_failed(uint32_t lane, int err, const std::string& detail,
                                      uint64_t now) {
  if (lane == 0) return on_connect_failed(err, detail, now);
  if (lane >= lanes_.size() || lanes_[lane].phase != RPhase::Dialing) return;
  close_lane(lane, now, false);
  controller_.on_lane_failed(now, lane);
}

void UploadManager::on_disconnected(uint32_t lane, int err, const std::string& detail,
                                    uint64_t now) {
  if (lane == 0) return on_disconnected(err, detail, now);
  if (lane >= lanes_.size() || lanes_[lane].phase == RPhase::Idle) return;
  close_lane(lane, now, false);
  controller_.on_lane_failed(now, lane);
  pump_resource(now);
}

void UploadManager::on_bytes(uint32_t lane, const char* data, size_t len, uint64_t now) {
  if (lane == 0) return on_bytes(data, len, now);
  if (lane >= lanes_.size()) return;
  Lane& x = lanes_[lane];
  if (x.phase != RPhase::Greeting && x.phase != RPhase::Ready) return;
  x.decoder.feed(data, len);
  while (x.phase == RPhase::Greeting || x.phase == RPhase::Ready) {
    proto::Frame f;
    proto::DecodeStatus st = x.decoder.next(f);
    if (st == proto::DecodeStatus::NeedMore) break;
    if (st != proto::DecodeStatus::Ready) {
      close_lane(lane, now, true);
      controller_.on_lane_failed(now, lane);
      break;
    }
    x.last_recv_ms = now;
    handle_lane_frame(lane, f, now);
  }
  drain_window(now);
  pump_resource(now);
}

void UploadManager::handle_lane_frame(uint32_t lane, const proto::Frame& f, uint64_t now) {
  using proto::FrameType;
  Lane& x = lanes_[lane];
  std::string err;
  if (x.phase == RPhase::Greeting) {
    proto::Json j = f.type == FrameType::Hello ? proto::json_parse(f.body) : nullptr;
    wire::ServerHello hello;
    if (!j || !wire::parse_hello(j.get(), hello, err) || hello.proto != proto::kProtocolVersion) {
      close_lane(lane, now, true);
      controller_.on_lane_failed(now, lane);
      return;
    }
    if (hello.heartbeat_ms > 0 && hello.heartbeat_ms < x.heartbeat_ms) {
      x.heartbeat_ms = static_cast<uint32_t>(std::max<uint64_t>(hello.heartbeat_ms, 100));
    }
    x.phase = RPhase::Ready;
    // The server answers HELLO before it looks at the OPENs and chunks that came with it.
    on_path_rtt(now - x.hello_sent_ms);
    return;  // the caller's pump_resource OPENs the uploads here
  }
  switch (f.type) {
    case FrameType::UploadState: {
      proto::UploadState st;
      if (!proto::decode_upload_state(f.body, st, err)) break;
      auto it = slots_.find(st.slot);
      if (it == slots_.end() || it->second.lane != lane) return;
      Upload* u = find(it->second.cid);
      if (u) on_lane_state(*u, lane, st, now);
      return;
    }
    case FrameType::ChunkAck: {
      proto::ChunkAck ack;
      if (!proto::decode_chunk_ack(f.body, ack, err)) break;
      return on_chunk_ack(lane, std::move(ack), now);
    }
    case FrameType::UploadDone: {
      proto::UploadDone d;
      if (!proto::decode_upload_done(f.body, d, err)) break;
      return on_upload_done(d, now);
    }
    case FrameType::Ping:
      proto::encode_frame(x.out, FrameType::Pong, f.body);
      x.last_send_ms = now;
      return;
    case FrameType::Pong:
      return;
    case FrameType::Error: {
      proto::Json j = proto::json_parse(f.body);
      bool fatal = true;
      if (j) proto::json_opt_bool(j.get(), "fatal", fatal, err);
      if (!fatal) return;
      break;
    }
    default:
      break;
  }
  // A broken or refused lane: close it; the uploads continue on the others.
  close_lane(lane, now, true);
  controller_.on_lane_failed(now, lane);
}

// Heartbeats and dead-lane detection for the extra lanes (lane 0's are in handle_timeout).
void UploadManager::lane_timeouts(uint64_t now) {
  for (uint32_t l = 1; l < lanes_.size(); l++) {
    Lane& x = lanes_[l];
    if (x.phase == RPhase::Idle) continue;
    if (now - x.last_recv_ms >= 3ull * x.heartbeat_ms) {
      close_lane(l, now, true);
      controller_.on_lane_failed(now, l);
    } else if (x.phase == RPhase::Ready && now - x.last_send_ms >= x.heartbeat_ms) {
      proto::encode_frame(x.out, proto::FrameType::Ping, "");
      x.last_send_ms = now;
    }
  }
}

}  // namespace ferry::sdk
