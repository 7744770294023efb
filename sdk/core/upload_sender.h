// Per-upload chunk bookkeeping on the sending side: which chunks are unsent, in flight (and
// since when), lost (waiting for a retransmit) or acked (durable on the server). Sans-I/O.
//
// Owned by UploadWindow (one per upload: the upload's shared pool over every lane); the window
// decides *when* and on which lane to send, this class only decides *which* chunk is next and
// keeps the books. A chunk is in flight on at most one lane (Sent::lane). It is built from the
// server's UPLOAD_STATE, so a resume only ever sends what the server does not durably hold.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "proto/upload_frames.h"

namespace ferry::sdk {

class ChunkTracker {
 public:
  // One send of a chunk that is not acked yet.
  struct Sent {
    uint64_t sent_at_ms = 0;
    uint64_t seq = 0;  // window-wide send sequence number of the latest transmission
    uint32_t lane = 0;  // the connection the latest transmission went out on
    uint32_t transmissions = 0;  // > 1 means retransmitted: no RTT sample (Karn)
    uint32_t timeouts = 0;  // RTO expiries of this chunk so far
    bool lost = false;  // declared lost; waiting in the retransmit queue, not in flight
  };

  // What one acked chunk changed; the window turns it into cwnd, RTT and accounting updates.
  struct Acked {
    bool was_sent = false;  // we had sent it since the window began (counts for cwnd growth)
    bool was_in_flight = false;  // it occupied window space until now
    uint64_t bytes = 0;
    std::optional<Sent> send;  // the send record, when there was one
  };

  // `state` must have status Ok and consistent geometry (the frame decoder guarantees both).
  explicit ChunkTracker(const proto::UploadState& state);

  uint32_t slot() const { return slot_; }
  uint64_t total_chunks() const { return total_chunks_; }
  uint64_t file_size() const { return file_size_; }
  uint32_t chunk_size() const { return chunk_size_; }
  uint64_t chunk_bytes(uint64_t index) const;
  uint64_t acked_bytes() const { return acked_bytes_; }
  uint64_t acked_chunks() const { return acked_chunks_; }
  bool complete() const { return acked_chunks_ == total_chunks_; }
  bool is_acked(uint64_t index) const { return state_[index] == State::Acked; }
  uint64_t in_flight_chunks() const { return in_flight_chunks_; }
  uint64_t in_flight_bytes() const { return in_flight_bytes_; }
  // Chunks neither acked nor in flight (unsent or waiting for a retransmit).
  uint64_t waiting_chunks() const { return total_chunks_ - acked_chunks_ - in_flight_chunks_; }

  // The chunk to send next: lost chunks first (oldest loss first), then the lowest unsent.
  // Non-const because it drops stale retransmit entries (chunks acked after being queued).
  std::optional<uint64_t> next_to_send();
  // Records a (re)transmission of `index`, which next_to_send() just returned.
  void mark_sent(uint64_t index, uint64_t now_ms, uint64_t seq, uint32_t lane = 0);
  // Marks `index` durable. Idempotent: a duplicate ack returns {} and changes nothing.
  Acked ack(uint64_t index);
  // Moves an in-flight chunk to the retransmit queue. Returns its send record if it was in
  // flight (so the caller frees window space); nothing for unsent, lost or acked chunks.
  std::optional<Sent> mark_lost(uint64_t index, bool timed_out);
  // Earliest send time among in-flight chunks, for the RTO timer.
  std::optional<uint64_t> earliest_in_flight_ms() const;
  // In-flight chunks sent at or before `cutoff_ms` (their RTO has run out).
  std::vector<uint64_t> in_flight_sent_before(uint64_t cutoff_ms) const;
  const Sent* send_record(uint64_t index) const;
  // Every chunk sent and not yet acked (in flight or lost), by index.
  const std::map<uint64_t, Sent>& sends() const { return sent_; }
  // Lowest index not yet acked (everything below is durable).
  uint64_t ack_floor() const { return ack_floor_; }

 private:
  enum class State : uint8_t { Unsent, InFlight, Lost, Acked };

  uint32_t slot_;
  uint32_t chunk_size_;
  uint64_t total_chunks_;
  uint64_t file_size_;
  std::vector<State> state_;  // one byte per chunk: 4 KiB for a 4 GiB file in 1 MiB chunks
  uint64_t next_unsent_ = 0;  // no Unsent chunk lies below this index
  uint64_t ack_floor_ = 0;
  std::deque<uint64_t> lost_;  // retransmit queue; entries may be stale (acked since)
  std::map<uint64_t, Sent> sent_;  // every chunk sent and not yet acked (in flight or lost)
  uint64_t acked_chunks_ = 0;
  uint64_t acked_bytes_ = 0;
  uint64_t in_flight_chunks_ = 0;
  uint64_t in_flight_bytes_ = 0;
};

}  // namespace ferry::sdk
