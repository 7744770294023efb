// The sender's upload window: congestion control, RTO, round-robin (see upload_window.h).
#include "sdk/core/upload_window.h"

#include <algorithm>
#include <cmath>

namespace ferry::sdk {

const char* upload_failure_name(UploadFailure failure) {
  switch (failure) {
    case UploadFailure::None: return "none";
    case UploadFailure::ChunkRefused: return "chunk_refused";
    case UploadFailure::SlotLost: return "slot_lost";
    case UploadFailure::TooManyTimeouts: return "too_many_timeouts";
  }
  return "unknown";
}

UploadWindow::UploadWindow(UploadWindowConfig config)
    : config_(config),
      cwnd_(std::max<uint32_t>(1, std::min(config.initial_cwnd, config.max_cwnd))),
      ssthresh_(std::max<uint32_t>(1, config.max_cwnd)),
      rto_ms_(config.initial_rto_ms) {}

bool UploadWindow::add_upload(const proto::UploadState& state, uint64_t now_ms) {
  (void)now_ms;  // kept in the signature: every entry point is told the time
  if (state.status != proto::UploadStatus::Ok || uploads_.count(state.slot)) return false;
  auto [it, inserted] = uploads_.try_emplace(state.slot, state);
  const ChunkTracker& c = it->second.chunks;
  // The first Progress tells the app how much the server already held (the resume point).
  events_.push_back({UploadEventKind::Progress, state.slot, c.acked_bytes(), c.file_size(),
                     UploadFailure::None, {}});
  if (c.complete()) finish(state.slot, UploadEventKind::Complete, UploadFailure::None, {});
  return true;
}

void UploadWindow::on_ack(const proto::ChunkAck& ack, uint64_t now_ms) {
  auto it = uploads_.find(ack.slot);
  if (it == uploads_.end()) return;  // finished or cancelled: a late ack changes nothing
  Upload& up = it->second;
  uint64_t before = up.chunks.acked_bytes();
  process_acks(up, ack, now_ms);
  process_nacks(up, ack);
  if (!uploads_.count(ack.slot)) return;  // a NACK failed it
  if (up.chunks.acked_bytes() != before) {
    events_.push_back({UploadEventKind::Progress, ack.slot, up.chunks.acked_bytes(),
                       up.chunks.file_size(), UploadFailure::None, {}});
  }
  if (up.chunks.complete()) finish(ack.slot, UploadEventKind::Complete, UploadFailure::None, {});
}

void UploadWindow::process_acks(Upload& up, const proto::ChunkAck& ack, uint64_t now_ms) {
  // Grow only when the window was the limit; an app-limited sender has not proven that a
  // bigger window is safe (RFC 7661).
  bool cwnd_limited = in_flight_chunks_ >= cwnd_;
  uint64_t newest_seq = 0;
  std::optional<uint64_t> sample;
  uint64_t grown = 0;
  ChunkTracker& c = up.chunks;
  uint64_t cum = std::min(ack.cumulative, c.total_chunks());
  for (uint64_t i = c.ack_floor(); i < cum; i++) {
    credit(c.ack(i), now_ms, newest_seq, sample, grown);
  }
  for (const proto::ChunkRange& r : ack.selective) {
    uint64_t end = std::min(r.end, c.total_chunks());
    for (uint64_t i = r.start; i < end; i++) credit(c.ack(i), now_ms, newest_seq, sample, grown);
  }
  if (sample) rtt_sample(*sample);
  if (cwnd_limited) grow_cwnd(grown);
}

// Books one acked chunk: frees its window space, counts it for growth, and keeps the RTT
// sample of the most recently sent first transmission in this ack frame (one sample per
// frame, so a big cumulative ack does not flood the estimator).
void UploadWindow::credit(const ChunkTracker::Acked& a, uint64_t now_ms, uint64_t& newest_seq,
                          std::optional<uint64_t>& rtt_sample, uint64_t& grown) {
  if (a.was_in_flight) {
    in_flight_chunks_--;
    in_flight_bytes_ -= a.bytes;
  }
  if (!a.was_sent) return;  // held from an earlier connection: says nothing about this path
  grown++;
  // Karn: a retransmitted chunk's ack may answer any of its transmissions, so no sample.
  if (a.send->transmissions == 1 && (!rtt_sample || a.send->seq >= newest_seq)) {
    newest_seq = a.send->seq;
    rtt_sample = now_ms >= a.send->sent_at_ms ? now_ms - a.send->sent_at_ms : 0;
  }
}

void UploadWindow::process_nacks(Upload& up, const proto::ChunkAck& ack) {
  for (const proto::ChunkNack& n : ack.nacks) {
    switch (n.reason) {
      case proto::NackReason::BadHash:
      case proto::NackReason::WriteFailed:
        // The chunk did not arrive intact or could not be stored: re-send it, and treat it
        // as a loss (corruption and a struggling disk both mean "send less").
        if (auto s = up.chunks.mark_lost(n.index, false)) {
          release(*s, up.chunks.chunk_bytes(n.index));
          on_loss(s->seq);
        }
        break;
      case proto::NackReason::OutOfRange:
      case proto::NackReason::TooLarge:
      case proto::NackReason::BadSize:
        finish(ack.slot, UploadEventKind::Failed, UploadFailure::ChunkRefused,
               "server refused chunk " + std::to_string(n.index) + ": " +
                   proto::nack_reason_name(n.reason));
        return;
      case proto::NackReason::UnknownSlot:
        finish(ack.slot, UploadEventKind::Failed, UploadFailure::SlotLost,
               "server has no upload open under slot " + std::to_string(ack.slot));
        return;
    }
  }
}

void UploadWindow::release(const ChunkTracker::Sent& s, uint64_t bytes) {
  (void)s;
  in_flight_chunks_--;
  in_flight_bytes_ -= bytes;
}

void UploadWindow::grow_cwnd(uint64_t acked_chunks) {
  for (uint64_t i = 0; i < acked_chunks && cwnd_ < config_.max_cwnd; i++) {
    if (cwnd_ < ssthresh_) {
      cwnd_++;  // slow start: +1 per ack doubles the window every round trip
    } else if (++ca_acks_ >= cwnd_) {
      ca_acks_ = 0;
      cwnd_++;  // congestion avoidance: +1 per full window of acks
    }
  }
}

void UploadWindow::on_loss(uint64_t seq) {
  // One reduction per window of data: losses among chunks sent before the last reduction
  // belong to the same congestion event (as NewReno's recovery point).
  if (seq < recovery_seq_) return;
  ssthresh_ = std::max<uint32_t>(1, cwnd_ / 2);
  cwnd_ = ssthresh_;
  ca_acks_ = 0;
  recovery_seq_ = next_seq_;
}

void UploadWindow::rtt_sample(uint64_t rtt_ms) {
  double r = static_cast<double>(rtt_ms);
  if (!have_rtt_) {  // RFC 6298 (2.2)
    have_rtt_ = true;
    srtt_ = r;
    rttvar_ = r / 2;
  } else {  // RFC 6298 (2.3): rttvar first, with the old srtt
    rttvar_ = 0.75 * rttvar_ + 0.25 * std::fabs(srtt_ - r);
    srtt_ = 0.875 * srtt_ + 0.125 * r;
  }
  // A fresh sample also ends any backoff (RFC 6298 5.7 via 2.3).
  double rto = srtt_ + std::max(1.0, 4 * rttvar_);
  rto_ms_ = static_cast<uint64_t>(std::ceil(rto));
  rto_ms_ = std::clamp(rto_ms_, config_.min_rto_ms, config_.max_rto_ms);
}

std::optional<uint64_t> UploadWindow::srtt_ms() const {
  if (!have_rtt_) return std::nullopt;
  return static_cast<uint64_t>(std::llround(srtt_));
}

void UploadWindow::handle_timeout(uint64_t now_ms) {
  if (now_ms < rto_ms_) return;
  uint64_t cutoff = now_ms - rto_ms_;
  std::optional<uint64_t> oldest_seq;
  std::vector<uint32_t> dead;
  for (auto& [slot, up] : uploads_) {
    for (uint64_t i : up.chunks.in_flight_sent_before(cutoff)) {
      auto s = up.chunks.mark_lost(i, true);
      release(*s, up.chunks.chunk_bytes(i));
      if (!oldest_seq || s->seq < *oldest_seq) oldest_seq = s->seq;
      if (config_.max_timeouts != 0 && s->timeouts > config_.max_timeouts) dead.push_back(slot);
    }
  }
  if (!oldest_seq) return;
  on_loss(*oldest_seq);
  // RFC 6298 (5.5): back off; the doubled RTO stands until a fresh (non-Karn) sample.
  rto_ms_ = std::min(config_.max_rto_ms, rto_ms_ * 2);
  for (uint32_t slot : dead) {
    finish(slot, UploadEventKind::Failed, UploadFailure::TooManyTimeouts,
           "a chunk timed out more than " + std::to_string(config_.max_timeouts) + " times");
  }
}

std::optional<uint64_t> UploadWindow::poll_timeout() const {
  std::optional<uint64_t> earliest;
  for (const auto& [slot, up] : uploads_) {
    auto t = up.chunks.earliest_in_flight_ms();
    if (t && (!earliest || *t < *earliest)) earliest = t;
  }
  if (!earliest) return std::nullopt;
  return *earliest + rto_ms_;
}

std::optional<SendChunk> UploadWindow::poll_send(uint64_t now_ms) {
  if (uploads_.empty() || in_flight_chunks_ >= cwnd_) return std::nullopt;
  // Round-robin: start with the upload after the one served last, wrap around once.
  auto it = last_served_ ? uploads_.upper_bound(*last_served_) : uploads_.begin();
  for (size_t n = 0; n < uploads_.size(); n++, it++) {
    if (it == uploads_.end()) it = uploads_.begin();
    SendChunk out;
    if (!it->second.paused && try_send(it->second, now_ms, out)) {
      last_served_ = it->first;
      return out;
    }
  }
  return std::nullopt;
}

bool UploadWindow::try_send(Upload& up, uint64_t now_ms, SendChunk& out) {
  std::optional<uint64_t> index = up.chunks.next_to_send();
  if (!index) return false;
  uint64_t bytes = up.chunks.chunk_bytes(*index);
  // The byte cap bounds memory and queueing; an empty pipe always takes one chunk.
  if (in_flight_bytes_ > 0 && in_flight_bytes_ + bytes > config_.max_inflight_bytes) return false;
  out.slot = up.chunks.slot();
  out.index = *index;
  out.offset = *index * up.chunks.chunk_size();
  out.length = static_cast<uint32_t>(bytes);
  out.retransmit = up.chunks.send_record(*index) != nullptr;
  up.chunks.mark_sent(*index, now_ms, next_seq_++);
  in_flight_chunks_++;
  in_flight_bytes_ += bytes;
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
                          std::string detail) {
  auto it = uploads_.find(slot);
  const ChunkTracker& c = it->second.chunks;
  in_flight_chunks_ -= c.in_flight_chunks();
  in_flight_bytes_ -= c.in_flight_bytes();
  events_.push_back({kind, slot, c.acked_bytes(), c.file_size(), failure, std::move(detail)});
  uploads_.erase(it);
}

const ChunkTracker* UploadWindow::tracker(uint32_t slot) const {
  auto it = uploads_.find(slot);
  return it == uploads_.end() ? nullptr : &it->second.chunks;
}

}  // namespace ferry::sdk
