// ResdCore: ferry-resd's logic as a sans-I/O state machine — data connections speaking the
// upload frames (docs/protocol-upload.md), the upload registry (one ChunkLedger per upload,
// keyed by the ticket's message id), expiry, cancellation and the chat link (ChatLink). No
// sockets, threads, files or clock: the adapter feeds events and the time and drains outputs.
//
// Calling contract (servers/resource/uv/ follows it; tests/unit/resource_core_test.cpp drives
// it directly):
//   load_*()                    at start-up, before any connection: what the store holds
//   on_open(conn, now)          a data connection was accepted (`conn` unique while open)
//   on_bytes(conn, ...)         bytes arrived, in order, any split; or, for zero-copy reads,
//   read_window(conn, len)      before a read: where to read into (nullptr = use your own
//                               buffer and on_bytes), then on_read_direct(conn, n, now)
//   on_close(conn)              the transport closed (peer left, or after poll_close)
//   on_job_done(result, now)    a Job from poll_job() finished on a file worker
//   link_*()                    the chat link's transport events (see ChatLink)
//   handle_timeout(now)         when now >= poll_timeout()
//   then drain: poll_job(), poll_send(), poll_close(), link_poll_send(), link_poll_close(),
//   poll_log() until each is empty, and apply wants_read(conn) to every connection (back-
//   pressure: false while the connection's chunks waiting for a worker exceed the bound).
//
// Jobs: every file operation is a Job for the adapter's workers. Jobs of one upload on one
// lane run in the order they were polled (the adapter pins an upload to one worker by
// message id); Persist runs on the sync lane so an fdatasync never stalls the writes. The core
// never has two jobs of one upload that touch the same bytes in flight, and issues the final
// Delete or Finalize only once the upload has no other job in flight.
//
// Times are milliseconds since the Unix epoch from a clock that never goes backwards.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/upload_frames.h"
#include "servers/resource/core/chat_link.h"
#include "servers/resource/core/chunk_ledger.h"
#include "servers/resource/core/frame_reader.h"

namespace ferry::resource {

using ConnId = uint64_t;
inline constexpr int64_t kNoTimeout = INT64_MAX;

// Chunk size policy: proto::resd_chunk_size (the SDK assumes it before UPLOAD_STATE says).
using proto::kLargeChunkBytes;
using proto::kLargeFileBytes;
using proto::kSmallChunkBytes;
// HELLO's max_frame: the largest CHUNK (largest chunk + 28-byte prefix) plus slack that also
// covers UPLOAD_OPEN with a 4096-byte ticket.
inline constexpr uint32_t kMaxFrameBody = kLargeChunkBytes + 4096;

struct ResdConfig {
  std::string key;                             // the shared HMAC key (raw bytes)
  int64_t upload_ttl_ms = 24ll * 3600 * 1000;  // idle incomplete uploads are deleted after it
  int64_t idle_timeout_ms = 60000;             // data connections silent this long are closed
  int64_t heartbeat_ms = 20000;                // advertised in HELLO
  int64_t early_bind_ttl_ms = 60000;           // a bind pushed before its upload's OPEN
  uint64_t max_queued_bytes = 64u << 20;       // per connection, chunk bytes waiting for workers
  // The same over every connection: lanes and many clients multiply the per-connection bound,
  // this one holds whatever their number.
  uint64_t max_total_queued_bytes = 256u << 20;
  uint32_t max_slots = 1024;                   // open uploads per connection
  uint32_t max_lanes = 16;                     // connections one upload may be open on at once
  uint64_t max_file_size = 1ull << 40;         // larger tickets get too_large
  int64_t progress_interval_ms = 250;          // upload_progress per upload at most this often
  int64_t retry_ms = 1000;                     // a failed Persist/Finalize is retried after this
  // Every this many bytes written to an upload (every eighth of a smaller file, at least
  // 4 MiB: note_written), a Flush job syncs its data file while the
  // upload goes on, so the sync before READY finds little left to do (0 = never; --sync full
  // syncs on every ack anyway). On this machine's disk the first sync after a gigabyte of
  // O_DIRECT writes took 0.3-0.9 s with everything waiting (docs/benchmarks.md, session 16).
  uint64_t flush_every_bytes = 64u << 20;
  bool link_enabled = false;                   // --chat given
  LinkConfig link;
};

// What the store knows about an upload in partial/ (also the Create job's input).
struct UploadMeta {
  uint64_t message_id = 0;
  uint64_t user_id = 0;
  uint64_t file_size = 0;
  uint32_t chunk_size = 0;
  proto::Sha256 file_hash{};  // all zeros: unbound (the client sends before it knows it)
  int64_t created_ms = 0;
};

// A finished upload (done/<message_id>): lets a late OPEN get UPLOAD_DONE ok at once.
struct DoneRecord {
  uint64_t user_id = 0;
  uint64_t file_size = 0;
  uint32_t chunk_size = 0;
  proto::Sha256 file_hash{};
};

enum class JobKind : uint8_t {
  Create,    // preallocate partial data, write meta; ok=false + error=ENOSPC -> disk_full
  Chunk,     // chunk_sum the payload; only if it equals `claimed`, write it at `offset`
  Persist,   // fdatasync data, then store `blob` as the ledger (tmp + fsync + rename + fsync dir)
  Bind,      // rewrite the meta (tmp + fsync + rename) with the hash of a bound ticket
  Verify,    // whole-file SHA-256 == meta.file_hash?
  Finalize,  // move into files/, write done + outbox records, remove partial state
  Delete,    // remove the partial upload (cancel, expiry, corrupt)
  Unnotify,  // chatd answered upload_done: remove the outbox record
  Discard,   // remove a finished upload's data file whose content was stored already
  Flush,     // fdatasync the partial data file while the upload goes on (its own thread)
};
const char* job_kind_name(JobKind kind);

struct Job {
  JobKind kind = JobKind::Create;
  uint64_t message_id = 0;
  UploadMeta meta;  // Create, Bind, Verify, Finalize
  // Chunk: the frame body the payload sits in (moved, never copied), and where it sits.
  ConnId conn = 0;
  uint64_t index = 0;
  uint64_t offset = 0;
  proto::ChunkSum claimed{};
  // The payload's chunk_sum when the frame reader took it as the bytes arrived; else the
  // worker computes it.
  std::optional<proto::ChunkSum> computed;
  OwnedBody body;
  size_t payload_offset = 0;
  size_t payload_len = 0;
  // Persist
  uint64_t generation = 0;
  std::string blob;

  bool sync_lane() const { return kind == JobKind::Persist || kind == JobKind::Unnotify; }
  bool flush_lane() const { return kind == JobKind::Flush; }
  std::string_view payload() const { return {body.data + payload_offset, payload_len}; }
};

struct JobResult {
  JobKind kind = JobKind::Create;
  uint64_t message_id = 0;
  bool ok = false;           // Chunk: the write succeeded (only attempted when the hash matched)
  int error = 0;             // errno of the failure (ENOSPC = disk full), 0 if none
  std::string message;       // for the log
  ConnId conn = 0;           // Chunk
  uint64_t index = 0;        // Chunk
  uint64_t length = 0;       // Chunk
  proto::ChunkSum claimed{};   // Chunk
  proto::ChunkSum computed{};  // Chunk
  uint64_t generation = 0;   // Persist
  std::string blob;          // Persist: the job's blob, handed back so a failure can be retried
  bool duplicate = false;    // Finalize: files/ held this content; the data file awaits Discard
};

class ResdCore {
 public:
  explicit ResdCore(ResdConfig config);
  ~ResdCore();
  ResdCore(const ResdCore&) = delete;
  ResdCore& operator=(const ResdCore&) = delete;

  // Start-up state from the store. `blob` may be empty or corrupt: the upload then starts
  // over (holds nothing), it never claims a chunk the blob does not prove.
  void load_partial(const UploadMeta& meta, std::string_view blob, int64_t last_active_ms);
  void load_done(uint64_t message_id, const DoneRecord& record);
  void load_outbox(uint64_t message_id, uint64_t size, const proto::Sha256& hash, int64_t now_ms);

  void on_open(ConnId conn, int64_t now_ms);
  void on_bytes(ConnId conn, const char* data, size_t len, int64_t now_ms);
  char* read_window(ConnId conn, size_t& len);
  void on_read_direct(ConnId conn, size_t n, int64_t now_ms);
  void on_close(ConnId conn);
  bool wants_read(ConnId conn) const;
  void on_job_done(JobResult&& result, int64_t now_ms);

  bool link_connect_due(int64_t now_ms) const;
  void link_on_connecting(int64_t now_ms) { link_.on_connecting(now_ms); }
  void link_on_connected(int64_t now_ms) { link_.on_connected(now_ms); }
  void link_on_bytes(const char* data, size_t len, int64_t now_ms);
  void link_on_closed(int64_t now_ms) { link_.on_closed(now_ms); }
  bool link_poll_send(std::string& bytes) { return link_.poll_send(bytes); }
  bool link_poll_close() { return link_.poll_close(); }
  void set_advertise(std::string address) { link_.set_advertise(std::move(address)); }
  // Chat-side cancel (also reachable without the link, for tests and tools).
  void cancel(uint64_t message_id, int64_t now_ms);

  void handle_timeout(int64_t now_ms);
  int64_t poll_timeout() const;
  // Tells every connection `shutting_down` and closes it; no new jobs are issued after it.
  void shutdown(int64_t now_ms);

  bool poll_job(Job& job);
  bool poll_send(ConnId& conn, std::string& bytes);
  bool poll_close(ConnId& conn);
  bool poll_log(std::string& line);

  // Introspection (tests, logs).
  size_t connection_count() const { return conns_.size(); }
  size_t upload_count() const { return uploads_.size(); }
  bool has_upload(uint64_t message_id) const { return uploads_.count(message_id) != 0; }
  bool is_done(uint64_t message_id) const { return done_.count(message_id) != 0; }
  size_t jobs_in_flight() const { return jobs_in_flight_; }
  const ChatLink& link() const { return link_; }

 private:
  enum class ConnState { Connected, Greeted };
  enum class Phase { Creating, Active, Verifying, Finalizing, Deleting };

  struct Conn {
    ConnId id = 0;
    FrameReader reader{1024};  // before HELLO only a small frame is acceptable
    ConnState state = ConnState::Connected;
    bool closing = false;
    bool dirty = false;
    int64_t last_rx_ms = 0;
    uint64_t queued_bytes = 0;                     // chunk payloads handed to workers, not yet back
    std::unordered_map<uint32_t, uint64_t> slots;  // slot -> message id
    std::string out;
  };

  // A lane: one (connection, slot) on which the upload is open. A client may spread one
  // upload over several connections (docs/protocol-upload.md, "Lanes").
  struct Lane {
    ConnId conn = 0;
    uint32_t slot = 0;
    bool operator==(const Lane&) const = default;
  };

  // A CHUNK that came right behind the upload's first OPEN, while its file is being created:
  // held (its bytes count as the connection's queued bytes) and taken once the file exists.
  struct EarlyChunk {
    ConnId conn = 0;
    OwnedBody body;
    std::optional<proto::ChunkSum> computed;
    uint64_t queued = 0;  // added to the queued bytes, given back by release_early
  };

  struct Upload {
    UploadMeta meta;  // meta.file_hash is set as soon as a bound ticket is accepted
    proto::Sha256 disk_hash{};  // the hash in the meta on disk (zeros until a Bind lands)
    Phase phase = Phase::Creating;
    proto::UploadStatus end_status = proto::UploadStatus::Ok;  // why it is being deleted
    std::optional<ChunkLedger> ledger;
    std::vector<Lane> lanes;                           // open lanes, oldest first
    std::vector<Lane> waiters;                         // OPENs answered once Create finishes
    std::vector<EarlyChunk> early;                     // CHUNKs taken once Create finishes
    // Where to send the ack of a chunk: the lanes it arrived on, until it is acked or NACKed.
    std::unordered_map<uint64_t, std::vector<Lane>> ack_to;
    std::unordered_set<uint64_t> busy;                 // chunks dispatched and not yet durable
    std::unordered_map<uint64_t, bool> write_results;  // fused Chunk result for the Write action
    uint32_t jobs = 0;                                 // jobs in flight
    int64_t last_active_ms = 0;
    std::optional<Job> retry;  // a failed Persist/Finalize to issue again at retry_at_ms
    int64_t retry_at_ms = 0;
    uint64_t progress_sent = UINT64_MAX;
    int64_t progress_sent_ms = 0;
    bool delete_pending = false;  // Delete waits for jobs == 0
    uint64_t unflushed = 0;       // bytes written since the last Flush was issued
    bool flushing = false;        // a Flush job is in flight
  };

  // connection.cpp
  Conn* find(ConnId id);
  void process(Conn& c, const char* data, size_t len, int64_t now_ms);
  bool handle_ready_frame(Conn& c, int64_t now_ms);
  void on_frame(Conn& c, proto::FrameType type, int64_t now_ms);
  void on_hello(Conn& c, std::string_view body);
  void send_frame(Conn& c, proto::FrameType type, std::string_view body);
  void mark_dirty(Conn& c);
  void send_error(Conn& c, const char* code, const std::string& message, bool fatal);
  void fatal(Conn& c, const char* code, const std::string& message);
  void log(std::string line);

  // uploads.cpp
  void on_upload_open(Conn& c, std::string_view body, int64_t now_ms);
  void on_chunk(Conn& c, int64_t now_ms);
  void take_chunk(Conn& c, OwnedBody body, const std::optional<proto::ChunkSum>& computed,
                  int64_t now_ms);
  void release_early(Upload& u, bool take, int64_t now_ms);
  void open_reply(Upload& u, Lane who);
  void issue_bind(Upload& u);
  void bind_from_chat(uint64_t message_id, const std::string& sha256_hex, int64_t now_ms);
  std::optional<proto::Sha256> take_early_bind(uint64_t message_id, int64_t now_ms);
  void send_state_error(Conn& c, uint32_t slot, proto::UploadStatus status,
                        const std::string& message);
  void send_done(const Lane& who, const proto::UploadDone& done);
  void send_done_to_lanes(Upload& u, const proto::UploadDone& done);
  void drop_lane(Upload& u, size_t i);
  void send_ack(Upload& u, proto::ChunkAck& ack);
  void drain(Upload& u, int64_t now_ms);
  void issue(Upload& u, Job&& job);
  void issue_unowned(JobKind kind, uint64_t message_id);
  void finish_job(Upload& u);
  void begin_delete(Upload& u, proto::UploadStatus why, const std::string& message, int64_t now_ms);
  void maybe_progress(Upload& u, int64_t now_ms, bool force);
  uint64_t durable_bytes(const Upload& u) const;
  void on_chunk_done(Upload& u, JobResult& r, int64_t now_ms);
  void note_written(Upload& u, uint64_t bytes);
  void on_finalized(Upload& u, bool duplicate, int64_t now_ms);
  void sweep(int64_t now_ms);
  void drain_link(int64_t now_ms);

  ResdConfig config_;
  ChatLink link_;
  bool shutting_down_ = false;
  int64_t idle_deadline_ms_ = kNoTimeout;  // lazily kept, like ChatCore's
  int64_t next_sweep_ms_ = 0;
  int64_t next_retry_ms_ = kNoTimeout;
  size_t jobs_in_flight_ = 0;
  uint64_t queued_total_ = 0;  // sum of every connection's queued_bytes

  std::unordered_map<ConnId, std::unique_ptr<Conn>> conns_;
  std::vector<ConnId> dirty_;
  size_t dirty_pos_ = 0;
  std::vector<ConnId> closing_;
  std::unordered_map<uint64_t, Upload> uploads_;   // by message id
  std::unordered_map<uint64_t, DoneRecord> done_;  // finished uploads by message id
  std::unordered_set<uint64_t> cancelled_;         // cancelled message ids (refreshed by chatd)
  // chatd's bind pushes for uploads not OPENed here yet (bind_from_chat), oldest first: the
  // push can overtake the client's first OPEN, and the upload then starts bound.
  struct EarlyBind {
    uint64_t message_id = 0;
    proto::Sha256 hash{};
    int64_t at_ms = 0;
  };
  std::deque<EarlyBind> early_binds_;
  static constexpr size_t kMaxEarlyBinds = 1024;

  std::deque<Job> jobs_;
  std::deque<std::string> logs_;
};

}  // namespace ferry::resource
