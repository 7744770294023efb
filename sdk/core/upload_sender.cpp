// Per-upload chunk bookkeeping (see upload_sender.h).
#include "sdk/core/upload_sender.h"

#include <cassert>

namespace ferry::sdk {

ChunkTracker::ChunkTracker(const proto::UploadState& state)
    : slot_(state.slot),
      chunk_size_(state.chunk_size),
      total_chunks_(state.total_chunks),
      file_size_(state.file_size),
      state_(state.total_chunks, State::Unsent) {
  // Resume: whatever the server durably holds is acked before we send a single byte.
  for (const proto::ChunkRange& r : state.held) {
    for (uint64_t i = r.start; i < r.end && i < total_chunks_; i++) ack(i);
  }
}

uint64_t ChunkTracker::chunk_bytes(uint64_t index) const {
  return proto::chunk_length(file_size_, chunk_size_, index);
}

std::optional<uint64_t> ChunkTracker::next_to_send() {
  while (!lost_.empty()) {
    uint64_t i = lost_.front();
    if (state_[i] == State::Lost) return i;
    lost_.pop_front();  // stale: acked (or re-sent) since it was queued
  }
  while (next_unsent_ < total_chunks_ && state_[next_unsent_] != State::Unsent) next_unsent_++;
  if (next_unsent_ < total_chunks_) return next_unsent_;
  return std::nullopt;
}

void ChunkTracker::mark_sent(uint64_t index, uint64_t now_ms, uint64_t seq, uint32_t lane) {
  assert(state_[index] == State::Unsent || state_[index] == State::Lost);
  if (state_[index] == State::Lost) {
    assert(!lost_.empty() && lost_.front() == index);
    lost_.pop_front();
  }
  state_[index] = State::InFlight;
  Sent& s = sent_[index];
  s.sent_at_ms = now_ms;
  s.seq = seq;
  s.lane = lane;
  s.transmissions++;
  s.lost = false;
  in_flight_chunks_++;
  in_flight_bytes_ += chunk_bytes(index);
}

ChunkTracker::Acked ChunkTracker::ack(uint64_t index) {
  Acked out;
  if (index >= total_chunks_ || state_[index] == State::Acked) return out;
  out.bytes = chunk_bytes(index);
  if (state_[index] == State::InFlight) {
    out.was_in_flight = true;
    in_flight_chunks_--;
    in_flight_bytes_ -= out.bytes;
  }
  auto it = sent_.find(index);
  if (it != sent_.end()) {
    out.was_sent = true;
    out.send = it->second;
    sent_.erase(it);
  }
  state_[index] = State::Acked;
  acked_chunks_++;
  acked_bytes_ += out.bytes;
  while (ack_floor_ < total_chunks_ && state_[ack_floor_] == State::Acked) ack_floor_++;
  return out;
}

std::optional<ChunkTracker::Sent> ChunkTracker::mark_lost(uint64_t index, bool timed_out) {
  if (index >= total_chunks_ || state_[index] != State::InFlight) return std::nullopt;
  Sent& s = sent_[index];
  s.lost = true;
  if (timed_out) s.timeouts++;
  state_[index] = State::Lost;
  lost_.push_back(index);
  in_flight_chunks_--;
  in_flight_bytes_ -= chunk_bytes(index);
  return s;
}

std::optional<uint64_t> ChunkTracker::earliest_in_flight_ms() const {
  std::optional<uint64_t> best;
  for (const auto& [index, s] : sent_) {
    if (!s.lost && (!best || s.sent_at_ms < *best)) best = s.sent_at_ms;
  }
  return best;
}

std::vector<uint64_t> ChunkTracker::in_flight_sent_before(uint64_t cutoff_ms) const {
  std::vector<uint64_t> out;
  for (const auto& [index, s] : sent_) {
    if (!s.lost && s.sent_at_ms <= cutoff_ms) out.push_back(index);
  }
  return out;
}

const ChunkTracker::Sent* ChunkTracker::send_record(uint64_t index) const {
  auto it = sent_.find(index);
  return it == sent_.end() ? nullptr : &it->second;
}

}  // namespace ferry::sdk
