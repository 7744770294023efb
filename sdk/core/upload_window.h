// The sender's upload window over one or more connections ("lanes") to the same resource
// server. Sans-I/O: the adapter feeds server frames and the time in, and takes "send chunk
// (slot, index) on lane L" actions and events out.
//
// What it decides:
// - How many chunks may be in flight on each lane: AIMD congestion control per lane, on a
//   window counted in chunks (slow start, then +1 chunk per window of acks; halve on a loss
//   signal, at most once per window of data, never below 1, capped by config), plus a hard
//   byte cap per lane, so a slow link never queues without bound (in-flight bytes of a lane
//   <= max_inflight_bytes, except that one chunk may always be in flight so progress is
//   possible; the cap is split evenly between the lanes). Each lane keeps its own cwnd, RTO
//   and in-flight books: one TCP connection's
//   loss or queue must not shrink or inflate another's window.
// - Which upload sends next on a lane: round-robin, one chunk per turn, among the uploads
//   attached to that lane that have a chunk to send (uploads share every lane fairly; they
//   use the same chunk size in practice, so chunk turns are byte-fair).
// - The shared pool: an upload's chunks (one ChunkTracker) are spread over every lane it is
//   attached to. A chunk is in flight on at most one lane. An ack is durable whichever lane
//   brought it (resd acks over the whole upload), but cwnd growth, loss and the in-flight
//   books go to the lane that sent the chunk, and an RTT sample is only taken when the ack
//   came back on that same lane. A lane that is removed (or detached from an upload) gives
//   its chunks in flight back to the pool, to be re-sent on any lane.
// - When a chunk is lost: its lane's RTO (RFC 6298, Karn's rule, exponential backoff) ran
//   out with no progress on that lane, or the server NACKed it with bad_hash/write_failed.
//   Lost chunks are re-sent first. As in RFC 6298 5.3 the timer restarts whenever an ack
//   credits a chunk the lane sent: over TCP a chunk on a live connection is never dropped,
//   it only waits behind the chunks queued before it, so "no progress for one RTO" is the
//   loss signal, not "this chunk is older than one RTO" (which fired on deep queues).
//
// How to drive it (the adapter, on the loop):
//   add_upload(state, now, lane)   when the first UPLOAD_STATE with status ok arrives
//   attach(slot, lane) / merge_held(slot, state)   a further lane's UPLOAD_STATE
//   on_ack(ack, now, lane)   for every CHUNK_ACK, with ack.slot the window's key
//   handle_timeout(now)      when the timer set from poll_timeout() fires
//   poll_send(now, lane)     after any of the above, until it returns nothing: read the
//                            chunk's bytes, hash them, send CHUNK on that lane.
//   poll_event()             after any of the above, until it returns nothing
// Lane 0 exists from the start; the lane argument defaults to it, so a one-connection
// adapter never names a lane. Progress is emitted once per ack frame that made an upload's
// durable byte count grow; the SDK layer throttles it (100 ms / 1%) for the app. After
// Complete, Failed or Cancelled the upload is forgotten; later frames for its slot are
// ignored.
//
// Owner: the SDK's UploadManager. A new primary connection starts a new window; uploads
// re-enter through add_upload() with the server's fresh UPLOAD_STATE (this is how resume
// asks the server what it holds).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/upload_frames.h"
#include "sdk/core/upload_sender.h"

namespace ferry::sdk {

struct UploadWindowConfig {
  uint32_t initial_cwnd = 4;  // chunks; slow start begins here
  uint32_t max_cwnd = 256;  // chunks in flight on one lane, at most
  // Bytes in flight, at most, over all lanes (each lane gets an equal share): bounds
  // queueing, and keeps chunks in the shared pool for a new lane instead of all of them
  // sitting in the first lane's socket buffers.
  uint64_t max_inflight_bytes = 32u << 20;
  uint64_t initial_rto_ms = 1000;  // RFC 6298 (2.1)
  uint64_t min_rto_ms = 200;  // RFC says 1 s; a LAN with a disk behind it is faster
  uint64_t max_rto_ms = 60000;  // RFC 6298 (2.5)
  // A chunk that times out more often than this fails its upload (the link is dead; the
  // adapter reconnects). 0 = never give up.
  uint32_t max_timeouts = 8;
};

// Action: send chunk `index` of upload `slot` (bytes [offset, offset+length) of the file) on
// lane `lane`.
struct SendChunk {
  uint32_t slot = 0;
  uint32_t lane = 0;
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
  uint32_t lane = 0;  // Failed with TooManyTimeouts / SlotLost: the lane it happened on
};

class UploadWindow {
 public:
  explicit UploadWindow(UploadWindowConfig config = {});

  // Starts tracking an upload from the server's UPLOAD_STATE; held chunks count as acked.
  // Returns false (changing nothing) if the status is not ok or the slot is taken.
  // A zero-chunk or fully held upload emits Complete at once.
  // The upload is attached to `lane` (it may send there).
  bool add_upload(const proto::UploadState& state, uint64_t now_ms, uint32_t lane = 0);
  // `ack` arrived on `lane`; ack.slot is the key the upload was added under.
  void on_ack(const proto::ChunkAck& ack, uint64_t now_ms, uint32_t lane = 0);
  void handle_timeout(uint64_t now_ms);
  std::optional<SendChunk> poll_send(uint64_t now_ms, uint32_t lane = 0);

  // --- Lanes --------------------------------------------------------------------------------
  // A new connection with a fresh congestion state (slow start from initial_cwnd). False if
  // it exists.
  bool add_lane(uint32_t lane);
  // The connection is gone: its chunks in flight go back to their uploads' pools (not counted
  // as losses or timeouts: the other lanes' windows did nothing wrong), uploads detach.
  void remove_lane(uint32_t lane);
  bool has_lane(uint32_t lane) const { return lanes_.count(lane) != 0; }
  size_t lane_count() const { return lanes_.size(); }
  // The upload may (attach) or may no longer (detach) send on `lane`; detach gives the
  // upload's chunks in flight on that lane back to its pool. False for an unknown upload or
  // lane.
  bool attach(uint32_t slot, uint32_t lane);
  bool detach(uint32_t slot, uint32_t lane);
  bool attached(uint32_t slot, uint32_t lane) const;
  size_t attached_lanes(uint32_t slot) const;
  // Another lane's UPLOAD_STATE: what the server holds counts as acked (no cwnd credit).
  void merge_held(uint32_t slot, const proto::UploadState& state);
  // Changes the byte cap over all lanes (UploadWindowConfig::max_inflight_bytes) from the
  // next send on; chunks already in flight stay where they are.
  void set_max_inflight_bytes(uint64_t bytes) { config_.max_inflight_bytes = bytes; }
  // Chunks that wait for a lane (unsent or lost) over every upload not paused: the lane
  // controller only probes while there is enough of this left.
  uint64_t waiting_chunks() const;
  // Chunks not yet durable over every upload not paused (the work left).
  uint64_t remaining_chunks() const;
  // The largest chunk size among the uploads (0 with none).
  uint32_t chunk_size() const;
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

  // Introspection for tests, stats and the harness (a lane that does not exist reads 0).
  uint32_t cwnd(uint32_t lane = 0) const;
  uint32_t ssthresh(uint32_t lane = 0) const;
  uint64_t rto_ms(uint32_t lane = 0) const;
  std::optional<uint64_t> srtt_ms(uint32_t lane = 0) const;
  // The smallest RTT sample of the lane: the path without the queue our own window builds in
  // the socket buffers (srtt includes it).
  std::optional<uint64_t> min_rtt_ms(uint32_t lane = 0) const;
  uint64_t in_flight_chunks(uint32_t lane = 0) const;
  uint64_t in_flight_bytes(uint32_t lane = 0) const;
  const ChunkTracker* tracker(uint32_t slot) const;
  size_t upload_count() const { return uploads_.size(); }

 private:
  struct Upload {
    explicit Upload(const proto::UploadState& s) : chunks(s) {}
    ChunkTracker chunks;
    bool paused = false;
    uint64_t lanes = 0;  // bit L: attached to lane L (lanes are numbered below 64)
  };
  // One connection's congestion state and in-flight books.
  struct Lane {
    uint32_t cwnd = 1;
    uint32_t ssthresh = 1;
    uint32_t ca_acks = 0;  // acks counted toward the next +1 in congestion avoidance
    uint64_t recovery_seq = 0;  // losses of sends older than this were already answered
    uint64_t in_flight_chunks = 0;
    uint64_t in_flight_bytes = 0;
    std::optional<uint32_t> last_served;  // round-robin cursor: slot that sent last here
    // RFC 6298 state; srtt/rttvar in ms as doubles so small RTTs keep their precision.
    bool have_rtt = false;
    double srtt = 0;
    double rttvar = 0;
    uint64_t rto_ms = 0;
    uint64_t min_rtt = UINT64_MAX;
    // When an ack last credited a chunk this lane sent (RFC 6298 5.3: the timer restarts on
    // progress). A chunk times out RTO after the later of its send and this.
    uint64_t progress_ms = 0;
  };

  void process_acks(Upload& up, const proto::ChunkAck& ack, uint64_t now_ms, uint32_t lane);
  void process_nacks(Upload& up, const proto::ChunkAck& ack, uint32_t lane);
  void grow_cwnd(Lane& l, uint64_t acked_chunks);
  void on_loss(Lane& l, uint64_t seq);
  void rtt_sample(Lane& l, uint64_t rtt_ms);
  void release(const ChunkTracker::Sent& s, uint64_t bytes);
  void return_to_pool(Upload& up, uint32_t lane);
  void finish(uint32_t slot, UploadEventKind kind, UploadFailure failure, std::string detail,
              uint32_t lane = 0);
  bool try_send(Upload& up, Lane& l, uint32_t lane, uint64_t now_ms, SendChunk& out);
  const Lane* lane_of(uint32_t lane) const;
  static uint64_t deadline(const ChunkTracker::Sent& s, const Lane& l);

  UploadWindowConfig config_;
  std::map<uint32_t, Upload> uploads_;  // by slot; ordered so round-robin is deterministic
  std::map<uint32_t, Lane> lanes_;
  std::deque<UploadEvent> events_;
  uint64_t next_seq_ = 0;  // send sequence numbers, window-wide (monotonic on every lane)
};

}  // namespace ferry::sdk
