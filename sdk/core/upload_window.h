// The sender's upload window for one resource-server connection. Sans-I/O: the adapter feeds
// server frames and the time in, and takes "send chunk (slot, index)" actions and events out.
//
// What it decides:
// - How many chunks may be in flight on the connection: AIMD congestion control on a window
//   counted in chunks (slow start, then +1 chunk per window of acks; halve on a loss signal,
//   at most once per window of data, never below 1, capped by config), plus a hard byte cap,
//   so a slow link never queues without bound (in-flight bytes <= max_inflight_bytes, except
//   that one chunk may always be in flight so progress is possible).
// - Which upload sends next: round-robin, one chunk per turn, among uploads that have a chunk
//   to send. The seed had one counter shared by all files; here uploads share the window
//   fairly (they use the same chunk size in practice, so chunk turns are byte-fair).
// - When a chunk is lost: its RTO (RFC 6298, Karn's rule, exponential backoff) ran out, or
//   the server NACKed it with bad_hash/write_failed. Lost chunks are re-sent before new ones.
//
// How to drive it (the adapter, on the connection's loop):
//   add_upload(state)     when UPLOAD_STATE with status ok arrives (also on every resume)
//   on_ack(ack, now)      for every CHUNK_ACK
//   handle_timeout(now)   when the timer set from poll_timeout() fires
//   poll_send(now)        after any of the above, until it returns nothing: read the chunk's
//                         bytes, hash them, send CHUNK. Calling it sends nothing by itself.
//   poll_event()          after any of the above, until it returns nothing
// Progress is emitted once per ack frame that made an upload's durable byte count grow; the
// SDK layer throttles it (100 ms / 1%) for the app. After Complete, Failed or Cancelled the
// upload is forgotten; later frames for its slot are ignored.
//
// Owner: the SDK's resource-connection adapter, one instance per connection. A new
// connection starts a new window; uploads re-enter through add_upload() with the server's
// fresh UPLOAD_STATE (this is how resume asks the server what it holds).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "proto/upload_frames.h"
#include "sdk/core/upload_sender.h"

namespace ferry::sdk {

struct UploadWindowConfig {
  uint32_t initial_cwnd = 4;  // chunks; slow start begins here
  uint32_t max_cwnd = 256;  // chunks in flight on the connection, at most
  uint64_t max_inflight_bytes = 32u << 20;  // bytes in flight, at most (bounds SDK memory)
  uint64_t initial_rto_ms = 1000;  // RFC 6298 (2.1)
  uint64_t min_rto_ms = 200;  // RFC says 1 s; a LAN with a disk behind it is faster
  uint64_t max_rto_ms = 60000;  // RFC 6298 (2.5)
  // A chunk that times out more often than this fails its upload (the link is dead; the
  // adapter reconnects). 0 = never give up.
  uint32_t max_timeouts = 8;
};

// Action: send chunk `index` of upload `slot` (bytes [offset, offset+length) of the file).
struct SendChunk {
  uint32_t slot = 0;
  uint64_t index = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  bool retransmit = false;
};

enum class UploadEventKind { Progress, Complete, Failed, Cancelled };

enum class UploadFailure {
  None,
  ChunkRefused,  // NACK out_of_range/too_large/bad_size: our file or geometry is wrong
  SlotLost,  // NACK unknown_slot: the server forgot the slot; OPEN again
  TooManyTimeouts,  // a chunk timed out more than max_timeouts times
};
const char* upload_failure_name(UploadFailure failure);

struct UploadEvent {
  UploadEventKind kind = UploadEventKind::Progress;
  uint32_t slot = 0;
  uint64_t bytes_durable = 0;  // Progress/Complete: bytes the server holds durably
  uint64_t bytes_total = 0;
  UploadFailure failure = UploadFailure::None;
  std::string detail;  // Failed: a sentence for logs and the app
};

class UploadWindow {
 public:
  explicit UploadWindow(UploadWindowConfig config = {});

  // Starts tracking an upload from the server's UPLOAD_STATE; held chunks count as acked.
  // Returns false (changing nothing) if the status is not ok or the slot is taken.
  // A zero-chunk or fully held upload emits Complete at once.
  bool add_upload(const proto::UploadState& state, uint64_t now_ms);
  void on_ack(const proto::ChunkAck& ack, uint64_t now_ms);
  void handle_timeout(uint64_t now_ms);
  std::optional<SendChunk> poll_send(uint64_t now_ms);
  std::optional<UploadEvent> poll_event();
  // Earliest time handle_timeout() has work to do; nothing when no chunk is in flight.
  std::optional<uint64_t> poll_timeout() const;

  // A paused upload sends nothing (acks still count; its in-flight chunks finish or time
  // out). Return false for an unknown slot.
  bool pause(uint32_t slot);
  bool resume(uint32_t slot);
  // Forgets the upload at once and frees its window space; emits Cancelled. Telling the
  // servers is the adapter's job.
  bool cancel(uint32_t slot);

  // Introspection for tests, stats and the harness.
  uint32_t cwnd() const { return cwnd_; }
  uint32_t ssthresh() const { return ssthresh_; }
  uint64_t rto_ms() const { return rto_ms_; }
  std::optional<uint64_t> srtt_ms() const;
  uint64_t in_flight_chunks() const { return in_flight_chunks_; }
  uint64_t in_flight_bytes() const { return in_flight_bytes_; }
  const ChunkTracker* tracker(uint32_t slot) const;
  size_t upload_count() const { return uploads_.size(); }

 private:
  struct Upload {
    explicit Upload(const proto::UploadState& s) : chunks(s) {}
    ChunkTracker chunks;
    bool paused = false;
  };

  void process_acks(Upload& up, const proto::ChunkAck& ack, uint64_t now_ms);
  void process_nacks(Upload& up, const proto::ChunkAck& ack);
  void credit(const ChunkTracker::Acked& a, uint64_t now_ms, uint64_t& newest_seq,
              std::optional<uint64_t>& rtt_sample, uint64_t& grown);
  void grow_cwnd(uint64_t acked_chunks);
  void on_loss(uint64_t seq);
  void rtt_sample(uint64_t rtt_ms);
  void release(const ChunkTracker::Sent& s, uint64_t bytes);
  void finish(uint32_t slot, UploadEventKind kind, UploadFailure failure, std::string detail);
  bool try_send(Upload& up, uint64_t now_ms, SendChunk& out);

  UploadWindowConfig config_;
  std::map<uint32_t, Upload> uploads_;  // by slot; ordered so round-robin is deterministic
  std::optional<uint32_t> last_served_;  // round-robin cursor: slot that sent last
  std::deque<UploadEvent> events_;

  uint32_t cwnd_;
  uint32_t ssthresh_;
  uint32_t ca_acks_ = 0;  // acks counted toward the next +1 in congestion avoidance
  uint64_t next_seq_ = 0;  // send sequence numbers, connection-wide
  uint64_t recovery_seq_ = 0;  // losses of sends older than this were already answered
  uint64_t in_flight_chunks_ = 0;
  uint64_t in_flight_bytes_ = 0;

  // RFC 6298 state; srtt/rttvar in ms as doubles so small RTTs keep their precision.
  bool have_rtt_ = false;
  double srtt_ = 0;
  double rttvar_ = 0;
  uint64_t rto_ms_;
};

}  // namespace ferry::sdk
