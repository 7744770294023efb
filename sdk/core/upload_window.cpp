// The sender's upload window: per-lane congestion control and RTO, the shared chunk pool,
// round-robin between uploads (see upload_window.h).
#include "sdk/core/upload_window.h"

#include <algorithm>
#include <cmath>

namespace ferry::sdk {
namespace {

constexpr uint32_t kMaxLanes = 64;  // lane bits in Upload::lanes

uint64_t bit(uint32_t lane) { return uint64_t{1} << lane; }

}  // namespace

const char* upload_failure_name(UploadFailure failure) {
  switch (failure) {
    case UploadFailure::None: return "none";
    case UploadFailure::ChunkRefused: return "chunk_refused";
    case UploadFailure::SlotLost: return "slot_lost";
    case UploadFailure::TooManyTimeouts: return "too_many_timeouts";
  }
  return "unknown";
}

UploadWindow::UploadWindow(UploadWindowConfig config) : config_(config) { add_lane(0); }

bool UploadWindow::add_lane(uint32_t lane) {
  if (lane >= kMaxLanes || lanes_.count(lane)) return false;
  Lane& l = lanes_[lane];
  l.cwnd = std::max<uint32_t>(1, std::min(config_.initial_cwnd, config_.max_cwnd));
  l.ssthresh = std::max<uint32_t>(1, config_.max_cwnd);
  l.rto_ms = config_.initial_rto_ms;
  return true;
}

void UploadWindow::remove_lane(uint32_t lane) {
  if (!lanes_.count(lane)) return;
  for (auto& [slot, up] : uploads_) {
    return_to_pool(up, lane);
    up.lanes &= ~bit(lane);
  }
  lanes_.erase(lane);
}

// Chunks of `up` in flight on `lane` go back to the pool: lost (re-sent first, on any lane),
// but no timeout is counted and no lane's cwnd shrinks.
void UploadWindow::return_to_pool(Upload& up, uint32_t lane) {
  std::vector<uint64_t> mine;
  for (const auto& [index, s] : up.chunks.sends()) {
    if (!s.lost && s.lane == lane) mine.push_back(index);
  }
  for (uint64_t i : mine) {
    if (auto s = up.chunks.mark_lost(i, false)) release(*s, up.chunks.chunk_bytes(i));
  }
}

bool UploadWindow::attach(uint32_t slot, uint32_t lane) {
  auto it = uploads_.find(slot);
  if (it == uploads_.end() || !lanes_.count(lane)) return false;
  it->second.lanes |= bit(lane);
  return true;
}

bool UploadWindow::detach(uint32_t slot, uint32_t lane) {
  auto it = uploads_.find(slot);
  if (it == uploads_.end() || !lanes_.count(lane)) return false;
  return_to_pool(it->second, lane);
  it->second.lanes &= ~bit(lane);
  return true;
}

bool UploadWindow::attached(uint32_t slot, uint32_t lane) const {
  auto it = uploads_.find(slot);
  return it != uploads_.end() && lane < kMaxLanes && (it->second.lanes & bit(lane)) != 0;
}

size_t UploadWindow::attached_lanes(uint32_t slot) const {
  auto it = uploads_.find(slot);
  if (it == uploads_.end()) return 0;
  return static_cast<size_t>(__builtin_popcountll(it->second.lanes));
}

uint64_t UploadWindow::waiting_chunks() const {
  uint64_t n = 0;
  for (const auto& [slot, up] : uploads_) {
    if (!up.paused) n += up.chunks.waiting_chunks();
  }
  return n;
}

uint64_t UploadWindow::remaining_chunks() const {
  uint64_t n = 0;
  for (const auto& [slot, up] : uploads_) {
    if (!up.paused) n += up.chunks.total_chunks() - up.chunks.acked_chunks();
  }
  return n;
}

uint32_t UploadWindow::chunk_size() const {
  uint32_t n = 0;
  for (const auto& [slot, up] : uploads_) n = std::max(n, up.chunks.chunk_size());
  return n;
}

bool UploadWindow::add_upload(const proto::UploadState& state, uint64_t now_ms, uint32_t lane) {
  (void)now_ms;  // kept in the signature: every entry point is told the time
  if (state.status != proto::UploadStatus::Ok || uploads_.count(state.slot)) return false;
  auto [it, inserted] = uploads_.try_emplace(state.slot, state);
  if (lanes_.count(lane)) it->second.lanes |= bit(lane);
  const ChunkTracker& c = it->second.chunks;
  // The first Progress tells the app how much the server already held (the resume point).
  events_.push_back({UploadEventKind::Progress, state.slot, c.acked_bytes(), c.file_size(),
                     UploadFailure::None, {}, lane});
  if (c.complete()) finish(state.slot, UploadEventKind::Complete, UploadFailure::None, {});
  return true;
}

void UploadWindow::merge_held(uint32_t slot, const proto::UploadState& state) {
  proto::ChunkAck ack;
  ack.slot = slot;
  ack.selective = state.held;
  // kMaxLanes is no lane: nothing is credited, in-flight books still move.
  on_ack(ack, 0, kMaxLanes);
}

void UploadWindow::on_ack(const proto::ChunkAck& ack, uint64_t now_ms, uint32_t lane) {
  auto it = uploads_.find(ack.slot);
  if (it == uploads_.end()) return;  // finished or cancelled: a late ack changes nothing
  Upload& up = it->second;
  uint64_t before = up.chunks.acked_bytes();
  process_acks(up, ack, now_ms, lane);
  process_nacks(up, ack, lane);
  if (!uploads_.count(ack.slot)) return;  // a NACK failed it
  if (up.chunks.acked_bytes() != before) {
    events_.push_back({UploadEventKind::Progress, ack.slot, up.chunks.acked_bytes(),
                       up.chunks.file_size(), UploadFailure::None, {}, lane});
  }
  if (up.chunks.complete()) finish(ack.slot, UploadEventKind::Complete, UploadFailure::None, {});
}

void UploadWindow::process_acks(Upload& up, const proto::ChunkAck& ack, uint64_t now_ms,
                                uint32_t lane) {
  // Grow a lane only when its window was the limit; an app-limited sender has not proven
  // that a bigger window is safe (RFC 7661). Decided before this frame frees anything.
  std::map<uint32_t, bool> limited;
  for (const auto& [id, l] : lanes_) limited[id] = l.in_flight_chunks >= l.cwnd;
  std::map<uint32_t, uint64_t> grown;  // lane -> acked chunks it sent
  uint64_t newest_seq = 0;
  std::optional<uint64_t> sample;
  ChunkTracker& c = up.chunks;
  auto credit = [&](const ChunkTracker::Acked& a) {
    if (a.was_in_flight) release(*a.send, a.bytes);
    if (!a.was_sent) return;  // held from an earlier connection: says nothing about a path
    grown[a.send->lane]++;
    // Karn: a retransmitted chunk's ack may answer any of its transmissions, so no sample;
    // and only an ack on the lane that sent the chunk times that lane's round trip. One
    // sample per frame (the newest send), so a big cumulative ack does not flood it.
    if (a.send->lane == lane && a.send->transmissions == 1 &&
        (!sample || a.send->seq >= newest_seq)) {
      newest_seq = a.send->seq;
      sample = now_ms >= a.send->sent_at_ms ? now_ms - a.send->sent_at_ms : 0;
    }
  };
  uint64_t cum = std::min(ack.cumulative, c.total_chunks());
  for (uint64_t i = c.ack_floor(); i < cum; i++) credit(c.ack(i));
  for (const proto::ChunkRange& r : ack.selective) {
    uint64_t end = std::min(r.end, c.total_chunks());
    for (uint64_t i = r.start; i < end; i++) credit(c.ack(i));
  }
  auto here = lanes_.find(lane);
  if (sample && here != lanes_.end()) rtt_sample(here->second, *sample);
  for (const auto& [id, n] : grown) {
    auto l = lanes_.find(id);
    if (l == lanes_.end()) continue;
    l->second.progress_ms = std::max(l->second.progress_ms, now_ms);
    if (limited[id]) grow_cwnd(l->second, n);
  }
}

void UploadWindow::process_nacks(Upload& up, const proto::ChunkAck& ack, uint32_t lane) {
  for (const proto::ChunkNack& n : ack.nacks) {
    switch (n.reason) {
      case proto::NackReason::BadHash:
      case proto::NackReason::WriteFailed:
        // The chunk did not arrive intact or could not be stored: re-send it, and treat it
        // as a loss on the lane that sent it (corruption and a struggling disk both mean
        // "send less").
        if (auto s = up.chunks.mark_lost(n.index, false)) {
          release(*s, up.chunks.chunk_bytes(n.index));
          auto l = lanes_.find(s->lane);
          if (l != lanes_.end()) on_loss(l->second, s->seq);
        }
        break;
      case proto::NackReason::OutOfRange:
      case proto::NackReason::TooLarge:
      case proto::NackReason::BadSize:
        finish(ack.slot, UploadEventKind::Failed, UploadFailure::ChunkRefused,
               "server refused chunk " + std::to_string(n.index) + ": " +
                   proto::nack_reason_name(n.reason),
               lane);
        return;
      case proto::NackReason::UnknownSlot:
        finish(ack.slot, UploadEventKind::Failed, UploadFailure::SlotLost,
               "server has no upload open under slot " + std::to_string(ack.slot), lane);
        return;
    }
  }
}

// Frees the window space of one send on the lane that made it (a removed lane has none).
void UploadWindow::release(const ChunkTracker::Sent& s, uint64_t bytes) {
  auto it = lanes_.find(s.lane);
  if (it == lanes_.end()) return;
  it->second.in_flight_chunks--;
  it->second.in_flight_bytes -= bytes;
}

void UploadWindow::grow_cwnd(Lane& l, uint64_t acked_chunks) {
  for (uint64_t i = 0; i < acked_chunks && l.cwnd < config_.max_cwnd; i++) {
    if (l.cwnd < l.ssthresh) {
      l.cwnd++;  // slow start: +1 per ack doubles the window every round trip
    } else if (++l.ca_acks >= l.cwnd) {
      l.ca_acks = 0;
      l.cwnd++;  // congestion avoidance: +1 per full window of acks
    }
  }
}

void UploadWindow::on_loss(Lane& l, uint64_t seq) {
  // One reduction per window of data: losses among chunks sent before the last reduction
  // belong to the same congestion event (as NewReno's recovery point).
  if (seq < l.recovery_seq) return;
  l.ssthresh = std::max<uint32_t>(1, l.cwnd / 2);
  l.cwnd = l.ssthresh;
  l.ca_acks = 0;
  l.recovery_seq = next_seq_;
}

void UploadWindow::rtt_sample(Lane& l, uint64_t rtt_ms) {
  double r = static_cast<double>(rtt_ms);
  l.min_rtt = std::min(l.min_rtt, rtt_ms);
  if (!l.have_rtt) {  // RFC 6298 (2.2)
    l.have_rtt = true;
    l.srtt = r;
    l.rttvar = r / 2;
  } else {  // RFC 6298 (2.3): rttvar first, with the old srtt
    l.rttvar = 0.75 * l.rttvar + 0.25 * std::fabs(l.srtt - r);
    l.srtt = 0.875 * l.srtt + 0.125 * r;
  }
  // A fresh sample also ends any backoff (RFC 6298 5.7 via 2.3).
  double rto = l.srtt + std::max(1.0, 4 * l.rttvar);
  l.rto_ms = static_cast<uint64_t>(std::ceil(rto));
  l.rto_ms = std::clamp(l.rto_ms, config_.min_rto_ms, config_.max_rto_ms);
}

void UploadWindow::handle_timeout(uint64_t now_ms) {
  struct Expired {
    std::optional<uint64_t> oldest_seq;
    std::vector<uint32_t> dead;  // slots whose chunk timed out too often
  };
  std::map<uint32_t, Expired> by_lane;
  for (auto& [slot, up] : uploads_) {
    std::vector<uint64_t> out;
    for (const auto& [index, s] : up.chunks.sends()) {
      if (s.lost) continue;
      auto l = lanes_.find(s.lane);
      if (l == lanes_.end()) continue;
      if (deadline(s, l->second) <= now_ms) out.push_back(index);
    }
    for (uint64_t i : out) {
      auto s = up.chunks.mark_lost(i, true);
      release(*s, up.chunks.chunk_bytes(i));
      Expired& e = by_lane[s->lane];
      if (!e.oldest_seq || s->seq < *e.oldest_seq) e.oldest_seq = s->seq;
      if (config_.max_timeouts != 0 && s->timeouts > config_.max_timeouts) {
        e.dead.push_back(slot);
      }
    }
  }
  for (auto& [lane, e] : by_lane) {
    Lane& l = lanes_.at(lane);
    on_loss(l, *e.oldest_seq);
    // RFC 6298 (5.5): back off; the doubled RTO stands until a fresh (non-Karn) sample.
    l.rto_ms = std::min(config_.max_rto_ms, l.rto_ms * 2);
  }
  for (auto& [lane, e] : by_lane) {
    for (uint32_t slot : e.dead) {
      if (!uploads_.count(slot)) continue;
      finish(slot, UploadEventKind::Failed, UploadFailure::TooManyTimeouts,
             "a chunk timed out more than " + std::to_string(config_.max_timeouts) + " times",
             lane);
    }
  }
}

uint64_t UploadWindow::deadline(const ChunkTracker::Sent& s, const Lane& l) {
  return std::max(s.sent_at_ms, l.progress_ms) + l.rto_ms;
}

std::optional<uint64_t> UploadWindow::poll_timeout() const {
  std::optional<uint64_t> earliest;
  for (const auto& [slot, up] : uploads_) {
    for (const auto& [index, s] : up.chunks.sends()) {
      if (s.lost) continue;
      auto l = lanes_.find(s.lane);
      if (l == lanes_.end()) continue;
      uint64_t t = deadline(s, l->second);
      if (!earliest || t < *earliest) earliest = t;
    }
  }
  return earliest;
}

std::optional<SendChunk> UploadWindow::poll_send(uint64_t now_ms, uint32_t lane) {
  auto li = lanes_.find(lane);
  if (li == lanes_.end() || uploads_.empty()) return std::nullopt;
  Lane& l = li->second;
  if (l.in_flight_chunks >= l.cwnd) return std::nullopt;
  // Round-robin: start with the upload after the one served last here, wrap around once.
  auto it = l.last_served ? uploads_.upper_bound(*l.last_served) : uploads_.begin();
  for (size_t n = 0; n < uploads_.size(); n++, it++) {
    if (it == uploads_.end()) it = uploads_.begin();
    Upload& up = it->second;
    SendChunk out;
    if (!up.paused && (up.lanes & bit(lane)) && try_send(up, l, lane, now_ms, out)) {
      l.last_served = it->first;
      return out;
    }
  }
  return std::nullopt;
}

bool UploadWindow::try_send(Upload& up, Lane& l, uint32_t lane, uint64_t now_ms,
                            SendChunk& out) {
  std::optional<uint64_t> index = up.chunks.next_to_send();
  if (!index) return false;
  uint64_t bytes = up.chunks.chunk_bytes(*index);
  // The byte cap (this lane's share) bounds queueing; an empty pipe always takes one chunk.
  uint64_t cap = config_.max_inflight_bytes / std::max<size_t>(1, lanes_.size());
  if (l.in_flight_bytes > 0 && l.in_flight_bytes + bytes > cap) return false;
  out.slot = up.chunks.slot();
  out.lane = lane;
  out.index = *index;
  out.offset = *index * up.chunks.chunk_size();
  out.length = static_cast<uint32_t>(bytes);
  out.retransmit = up.chunks.send_record(*index) != nullptr;
  up.chunks.mark_sent(*index, now_ms, next_seq_++, lane);
  l.in_flight_chunks++;
  l.in_flight_bytes += bytes;
  return true;
}

std::optional<UploadEvent> UploadWindow::poll_event() {
  if (events_.empty()) return std::nullopt;
  UploadEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool UploadWindow::pause(uint32_t slot) {
  auto it = uploads_.find(slot);
  if (it == uploads_.end()) return false;
  it->second.paused = true;
  return true;
}

bool UploadWindow::resume(uint32_t slot) {
  auto it = uploads_.find(slot);
  if (it == uploads_.end()) return false;
  it->second.paused = false;
  return true;
}

bool UploadWindow::cancel(uint32_t slot) {
  if (!uploads_.count(slot)) return false;
  finish(slot, UploadEventKind::Cancelled, UploadFailure::None, "cancelled");
  return true;
}

void UploadWindow::finish(uint32_t slot, UploadEventKind kind, UploadFailure failure,
                          std::string detail, uint32_t lane) {
  auto it = uploads_.find(slot);
  const ChunkTracker& c = it->second.chunks;
  for (const auto& [index, s] : c.sends()) {
    if (!s.lost) release(s, c.chunk_bytes(index));
  }
  events_.push_back(
      {kind, slot, c.acked_bytes(), c.file_size(), failure, std::move(detail), lane});
  uploads_.erase(it);
}

const UploadWindow::Lane* UploadWindow::lane_of(uint32_t lane) const {
  auto it = lanes_.find(lane);
  return it == lanes_.end() ? nullptr : &it->second;
}

uint32_t UploadWindow::cwnd(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  return l ? l->cwnd : 0;
}
uint32_t UploadWindow::ssthresh(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  return l ? l->ssthresh : 0;
}
uint64_t UploadWindow::rto_ms(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  return l ? l->rto_ms : 0;
}
uint64_t UploadWindow::in_flight_chunks(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  return l ? l->in_flight_chunks : 0;
}
uint64_t UploadWindow::in_flight_bytes(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  return l ? l->in_flight_bytes : 0;
}
std::optional<uint64_t> UploadWindow::srtt_ms(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  if (!l || !l->have_rtt) return std::nullopt;
  return static_cast<uint64_t>(std::llround(l->srtt));
}

std::optional<uint64_t> UploadWindow::min_rtt_ms(uint32_t lane) const {
  const Lane* l = lane_of(lane);
  if (!l || !l->have_rtt) return std::nullopt;
  return l->min_rtt;
}

const ChunkTracker* UploadWindow::tracker(uint32_t slot) const {
  auto it = uploads_.find(slot);
  return it == uploads_.end() ? nullptr : &it->second.chunks;
}

}  // namespace ferry::sdk
