// UploadManager: the lifecycle of this client's media uploads (ferry_send_file), sans-I/O.
//
// Per upload:  Prepare (probe + whole-file SHA-256, done by the adapter off the loop; a file of
//   hash_later_min_bytes or more is only probed here and hashed by a poll_hash job while it
//   uploads, and bind_hash gives the chat server the hash when it is known: "hash later")
//   -> Announce (send_media on the chat connection; idempotent by cid, so a restart simply
//      announces again and gets the same message and a fresh ticket; an instant send answers
//      READY at once) -> Open (UPLOAD_OPEN on the resource connection) -> Sending (the shared
//      UploadWindow) -> Verifying (every chunk acked; waiting for UPLOAD_DONE) -> WaitReady
//      (the resource server verified the file; READY comes from the chat server's `status`
//      push, or from a re-announce when that push was missed) -> done.
// Deadlines on the resource connection (the core's clock): an UPLOAD_OPEN unanswered for the
// answer deadline is sent again under a fresh slot (resd treats a repeated OPEN idempotently:
// the newest slot owns the upload); if the second one goes unanswered too, the connection is
// dropped and re-established, which OPENs every upload again. Verifying (every chunk acked,
// no UPLOAD_DONE yet) has a deadline too, after which the upload is OPENed again (resd then
// answers UPLOAD_STATE, and UPLOAD_DONE once verified). Chunks in flight need none: the
// window's RTO re-sends them and, past max_timeouts, drops the connection.
// Side paths: ticket_expired/expired -> Ticket (upload_ticket) -> Open; disk_full, internal,
// no_resource_server -> Retry with backoff (never a failure); a cut resource connection ->
// reconnect with backoff and OPEN every upload again, so the server's UPLOAD_STATE says what
// it holds and only the rest is sent; corrupt -> FAILED (ECORRUPT); a changed source file ->
// FAILED (ESOURCECHANGED) and cancel_upload so the server frees the space; cancel -> Cancel
// (cancel_upload) -> CANCELLED.
//
// Lanes (issue 7 section 2): the uploads share one or more connections to the resource
// server. Lane 0 is the primary: it is dialed first, every upload is OPENed on it, and losing
// it starts everything over as above (reconnect, re-OPEN, UPLOAD_STATE). Extra lanes (1..)
// are opened and closed by the LaneController from the measured goodput; each OPENs the
// uploads that still have chunks to send (resd keeps an upload open on up to 16 connections),
// and the one UploadWindow spreads each upload's chunks over its lanes with a congestion
// window per lane. An extra lane that dies (or is closed) gives its chunks in flight back to
// the upload's pool; nothing else changes. An upload whose slot on an extra lane is refused
// or forgotten stops using that lane (never ping-pongs OPENs between lanes); an upload left
// with no lane at all is OPENed again on lane 0. Extra lanes are only used by an adapter that
// drives lanes (set_lane_capable) and when config max_lanes > 1.
// Chunk bytes never pass through here: poll_read() says which bytes to read, the adapter
// reads and hashes them off the loop, on_read_done() hands back the frame prefix, and the
// adapter writes prefix + its own buffer (zero copy). Retransmits are read again.
//
// How to drive it (loop thread only; ClientCore owns it and routes the chat side):
//   chat side      next_chat_request / on_chat_response / on_chat_online / on_chat_offline /
//                  on_status_push / on_progress_push     (called by ClientCore)
//   files          poll_prepare -> on_prepared; poll_hash -> on_hashed; poll_read ->
//                  on_read_done; poll_file_close
//   resource conn  poll_connect -> on_connected | on_connect_failed; on_bytes;
//                  on_disconnected; poll_send (control frames, before any chunk); poll_close
//                  (lane 0 only; a lane-capable adapter uses the lane overloads:
//                  poll_connect_lane / poll_close_lane and the calls taking a lane first)
//   time           poll_timeout / handle_timeout;  events: poll_event
// After any input call every poll_* until it returns nothing.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/frame.h"
#include "proto/upload_frames.h"
#include "sdk/core/backoff.h"
#include "sdk/core/lane_controller.h"
#include "sdk/core/state_store.h"
#include "sdk/core/types.h"
#include "sdk/core/upload_window.h"

struct cJSON;

namespace ferry::sdk {

struct UploadManagerConfig {
  // The window's defaults but a 10 s initial RTO: a lane hands its first 4 chunks (1-4 MiB
  // each) to the socket at once, and at 0.4 MB/s (one Reno stream at 40 ms and 1% loss) the
  // 4th is acked after 10 s. The RFC's 1 s (meant for one packet) fired on chunks still
  // queued in the socket and re-sent them: about 30% more bytes on such a link, on every new
  // lane. Until a lane has RTT samples nothing else is lost: TCP does not drop a chunk, and
  // a dead connection is found by its heartbeat.
  UploadWindowConfig window = [] {
    UploadWindowConfig w;
    w.initial_rto_ms = 10000;
    return w;
  }();
  // Connections to the resource server at most (lanes; 1 = one connection, as before lanes).
  // resd keeps an upload open on at most 16 connections.
  uint32_t max_lanes = 16;
  LaneControllerConfig lanes;  // its max_lanes is taken from max_lanes above
  // Lanes paced by their sockets, on a path at least lanes.long_path_rtt_ms long (where the
  // uploads spread over several lanes from the start). A chunk handed to a lane's socket is
  // that lane's until it is acked; a socket buffer holds megabytes, so chunks sat queued
  // behind a lane that then met a loss while other lanes stood idle. So each lane's socket
  // holds at most paced_unsent_bytes not yet sent (the adapter's UvLink::set_unsent_limit,
  // TCP_NOTSENT_LOWAT) and a lane takes its next chunk only when its socket took the last one:
  // chunks are given to a lane as its connection sends them. With that, the window's byte cap
  // no longer bounds queueing but only starves lanes, so it rises to paced_inflight_bytes
  // (8 MiB a lane at 12 lanes): through ferry-link at 40 ms and 1% loss, 64 MiB `send-file`
  // took 0.98-1.07 s against 1.09-1.22 s (medians of alternating runs, docs/benchmarks.md,
  // session 17). 512 KiB is ~35 ms of a lane at 15 MB/s: time enough to feed it again.
  uint32_t paced_unsent_bytes = 512u << 10;
  uint64_t paced_inflight_bytes = 96ull << 20;
  uint32_t retry_min_ms = 200;  // backoff for reconnects and retries (disk_full, ...)
  uint32_t retry_max_ms = 10000;
  // Files at least this big are sent "hash later": announced and uploaded while the adapter
  // hashes them, the hash bound afterwards (bind_hash), instead of hashing first (about 1 s
  // per GiB before the first byte). 0 = always hash first. Smaller files hash first, so an
  // instant send uploads nothing at all.
  uint64_t hash_later_min_bytes = 64ull << 20;
  uint64_t progress_interval_ms = 100;  // own progress events: at most this often, or 1%
  uint64_t ready_poll_ms = 5000;  // after UPLOAD_DONE, re-announce if no READY push came
  uint32_t heartbeat_ms = 10000;  // PING on an idle resource connection
  // Answer deadline for UPLOAD_OPEN, in heartbeats of the resource connection (the lower of
  // ours and resd's): 6 = twice the silence after which the connection counts as dead (60 s
  // with the default heartbeat). An OPEN sent behind chunks still in flight gets at least
  // 2 x the window's RTO, so on a slow link it is not given up early; it doubles for the
  // re-sent OPEN. Verifying adds 1 s per 32 MiB of file (resd hashes the whole file).
  uint32_t answer_deadline_heartbeats = 6;
  uint32_t max_frame_body = 1u << 20;  // largest control frame accepted from resd
  std::string agent = "ferry-sdk/0.1.0";
};

// Probe and hash the file (adapter, off the loop). The identity fields are those recorded at
// send time; the adapter fails with FERRY_ESOURCECHANGED if the file no longer matches.
struct PrepareJob {
  std::string cid, path;
  int kind = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  bool hash = true;   // SHA-256 the whole file (false: "hash later", a poll_hash job follows)
  bool probe = true;  // MIME type, dimensions, thumbnail (false: a poll_hash job)
};
struct PrepareResult {
  int status = 0;  // FERRY_OK, FERRY_ENOFILE, FERRY_ESOURCECHANGED
  std::string detail;
  std::string sha256;  // 64 hex
  std::string mime;
  int kind = 0;  // resolved: never AUTO
  uint32_t width = 0, height = 0;
  uint64_t duration_ms = 0;
  std::string thumb;
};

// Read `length` bytes at `offset` of `path` and SHA-256 them (adapter, off the loop), after
// checking that the file still has the recorded size, mtime and inode.
struct ReadJob {
  uint64_t id = 0;
  uint32_t lane = 0;  // the connection the CHUNK goes out on
  std::string cid, path;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
};

struct UploadCounters {
  uint64_t chunks_sent = 0;
  uint64_t chunk_bytes_sent = 0;
  uint64_t chunks_retransmitted = 0;
};

class UploadManager {
 public:
  UploadManager(UploadManagerConfig config, StateStore& store, RandomSource random);
  ~UploadManager();

  // --- From the app (through ClientCore) ----------------------------------------------------
  // Continues every upload in the store (call once, before the first input).
  void load(uint64_t now_ms);
  void set_user(const std::string& user) { user_ = user; }
  // A new upload, already written to the store by the API.
  void submit(const PendingUpload& u, uint64_t now_ms);
  // False for an unknown (or finished) upload.
  bool pause(const std::string& cid);
  bool resume(const std::string& cid);
  bool cancel(const std::string& cid, uint64_t now_ms);
  // Logout or another user: every upload fails with `err`; nothing is kept.
  void drop_all(int err, const std::string& detail);
  // True while the upload is active (not yet READY, FAILED or CANCELLED).
  bool owns_cid(const std::string& cid) const;
  // A media message of this client that the chat server stored: handed to ClientCore, which
  // keeps it with its acknowledged sends (the outbox, persisted) until the sync position
  // passes its id. chatd does not push a new media message to the session that sent it, so
  // the sync position usually stays below the id long after the upload ended; without this
  // the next sync would hand the message back as a new FERRY_EVENT_MESSAGE. Reported after
  // every send_media answer (ClientCore ignores repeats), so the record exists from the
  // moment the id is known, in the same store batch as the id itself.
  struct OwnSend {
    std::string cid, to;
    uint64_t message_id = 0;
    int64_t created_ms = 0;
  };
  bool poll_own_send(OwnSend& out);

  // --- Chat side (ClientCore) ---------------------------------------------------------------
  // While online: true and a REQUEST body for `rid` when an upload needs the chat server.
  bool next_chat_request(uint64_t rid, std::string& body);
  void on_chat_response(uint64_t rid, bool ok, const cJSON* body, int err,
                        const std::string& code, const std::string& msg, uint64_t now_ms);
  void on_chat_online(uint64_t now_ms);
  void on_chat_offline();
  // The resource server's address from the chat server's authentication answer, or the one
  // the store kept from the last process. Until a grant names one, a send_media on its way
  // dials it, so the connection (and its HELLO) is up when the ticket arrives and the OPEN
  // goes at once: one round trip less per upload. A newer hint replaces an older one (and its
  // connection); a grant's address wins over both.
  void set_resource_hint(const std::string& address, uint64_t now_ms);
  // The chat connection's peer IP and handshake round trip. A resource server on the same IP
  // is taken to be on the same path: on a long one every lane is dialed together with lane 0,
  // instead of after lane 0's own handshake has timed it (a round trip later).
  void on_chat_path(const std::string& peer_ip, uint64_t rtt_us);
  // After the chat side moved (requests handed out, answers taken): the resource connection
  // may be dialed now, or let go.
  void after_chat_requests(uint64_t now_ms);
  // True when the message is (or was) one of this client's uploads: the push is consumed.
  bool on_status_push(uint64_t message_id, int status, uint64_t now_ms);
  bool on_progress_push(uint64_t message_id) const;

  // --- Files (adapter) -----------------------------------------------------------------------
  std::optional<PrepareJob> poll_prepare();
  void on_prepared(const std::string& cid, const PrepareResult& r, uint64_t now_ms);
  // "Hash later": hash the file (probe = false) while it uploads; on_hashed with the result
  // (status and sha256 only).
  std::optional<PrepareJob> poll_hash();
  void on_hashed(const std::string& cid, const PrepareResult& r, uint64_t now_ms);
  std::optional<ReadJob> poll_read(uint64_t now_ms);  // lane 0
  std::optional<ReadJob> poll_read(uint64_t now_ms, uint32_t lane);
  // The read finished. True: write `prefix` then the bytes as one CHUNK frame (after
  // flushing poll_send()). False: drop the bytes (stale job or failed read).
  bool on_read_done(uint64_t job_id, int status, const std::string& detail,
                    const proto::ChunkSum& hash, uint8_t prefix[proto::kChunkFramePrefixBytes],
                    uint64_t now_ms);
  // A file the adapter may close (its upload ended).
  std::optional<std::string> poll_file_close();

  // --- Resource connections (adapter) --------------------------------------------------------
  // One connection (lane 0) only: what an adapter that drives one connection calls.
  std::optional<std::string> poll_connect();  // HOST:PORT to dial now
  void on_connected(uint64_t now_ms);
  void on_connect_failed(int err, const std::string& detail, uint64_t now_ms);
  void on_bytes(const char* data, size_t len, uint64_t now_ms);
  void on_disconnected(int err, const std::string& detail, uint64_t now_ms);
  std::string poll_send();
  bool poll_close();
  // Lanes: the adapter says it can drive several connections (call once, before the first
  // input); then it uses these for every lane, lane 0 included.
  void set_lane_capable() { lane_capable_ = true; }
  struct Dial {
    uint32_t lane = 0;
    std::string addr;  // HOST:PORT
  };
  std::optional<Dial> poll_connect_lane();
  std::optional<uint32_t> poll_close_lane();  // close this lane's socket (it may be redialed)
  void on_connected(uint32_t lane, uint64_t now_ms);
  void on_connect_failed(uint32_t lane, int err, const std::string& detail, uint64_t now_ms);
  void on_bytes(uint32_t lane, const char* data, size_t len, uint64_t now_ms);
  void on_disconnected(uint32_t lane, int err, const std::string& detail, uint64_t now_ms);
  std::string poll_send(uint32_t lane);
  // The kernel's round trip of `lane`'s TCP handshake (TCP_INFO), given just before
  // on_connected. On lane 0 it times the path a round trip before the server's HELLO does,
  // so on a long path the extra lanes are dialed while lane 0 is still greeting.
  void on_handshake_rtt(uint32_t lane, uint64_t rtt_us);
  uint32_t lane_slots() const { return static_cast<uint32_t>(lanes_.size()); }  // lane ids < this

  void handle_timeout(uint64_t now_ms);
  std::optional<uint64_t> poll_timeout() const;
  bool poll_event(Event& out);

  // Introspection (tests, stats).
  size_t active() const { return uploads_.size(); }
  const UploadCounters& counters() const { return counters_; }
  bool resource_ready() const { return rphase_ == RPhase::Ready; }
  // Connections to the resource server that are up (greeted), 0..max_lanes.
  uint32_t lanes_up() const;
  const LaneController& lane_controller() const { return controller_; }
  // The lanes are paced by their sockets (UploadManagerConfig::paced_unsent_bytes): the
  // adapter limits each lane's unsent bytes to lane_unsent_limit() and hands a lane one chunk
  // at a time. 0 = not paced (a short path, or its length not known yet).
  uint32_t lane_unsent_limit() const;

 private:
  enum class Phase {
    Prepare, Announce, Ticket, Cancel, Retry, Open, Opening, Sending, Verifying, WaitReady
  };
  enum class ChatOp { None, SendMedia, Ticket, Cancel, Bind };
  enum class RPhase { Idle, Offline, Dialing, Greeting, Ready };
  struct Upload {
    Upload(PendingUpload r, Backoff b) : rec(std::move(r)), backoff(std::move(b)) {}
    PendingUpload rec;
    Phase phase = Phase::Prepare;
    Phase after_retry = Phase::Announce;  // where Retry goes when retry_at passes
    uint64_t retry_at = 0;
    Backoff backoff;
    bool prepare_requested = false;
    // Hash later: the hash job was handed out; the hash must be (re)bound at the chat server
    // (bind_hash); the chat server has it (a bound ticket, or a message carrying it).
    bool hash_requested = false;
    bool bind_needed = false;
    bool bound = false;
    uint64_t chat_rid = 0;  // request in flight on the chat connection, 0 = none
    ChatOp chat_op = ChatOp::None;
    std::string ticket, resource;
    // The window's key for the upload: the slot whose UPLOAD_STATE put it in the window
    // (0 = not in the window). Wire slots are never reused, so it stays unique.
    uint32_t slot = 0;
    // In the window on a presumed UPLOAD_STATE (nothing held, the protocol's chunk size), its
    // chunks sent right behind the OPEN; the server's own answer is still to come.
    bool presumed = false;
    bool no_presume = false;  // the server cut the file otherwise once: wait for its answer
    // An OPEN on lane 0 waits for its UPLOAD_STATE (and its answer deadline runs).
    bool awaiting_state() const { return phase == Phase::Opening || presumed; }
    std::map<uint32_t, uint32_t> lane_slots;  // lane -> slot OPENed there (and not released)
    uint64_t refused = 0;  // bit L: lane L refused or forgot this upload; do not OPEN there
    uint64_t durable_seen = 0;  // durable bytes already told to the lane controller
    // Opening: when the OPEN counts as unanswered; Verifying: when to OPEN again for the
    // verdict. open_tries counts the OPENs sent on this connection without an answer.
    uint64_t answer_deadline = 0;
    uint32_t open_tries = 0;
    uint64_t open_sent_ms = 0;  // when the last OPEN went out
    bool open_behind_chunks = false;  // ... behind chunks still in flight on its connection
    bool upload_done = false;  // the resource server said UPLOAD_DONE ok
    uint64_t ready_poll_at = 0;
    bool uploading_reported = false;  // UPLOADING status emitted in this run
    bool reported = false;  // a final status (FAILED) went out already; the rest is silent
    bool progress_emitted = false;
    uint64_t progress_ms = 0;  // time and value of the last progress event
    uint64_t progress_done = 0;
  };

  // upload_manager.cpp: lifecycle and chat side.
  Upload* find(const std::string& cid) const;
  Upload* find_message(uint64_t message_id) const;
  void add(PendingUpload rec, uint64_t now_ms);
  void on_announced(Upload& u, const cJSON* body, uint64_t now_ms);
  void on_grant(Upload& u, const cJSON* body, uint64_t now_ms);
  void on_bound(Upload& u, const cJSON* body, uint64_t now_ms);
  void cancel_if_asked(Upload& u);
  void on_chat_error(Upload& u, ChatOp op, int err, const std::string& code,
                     const std::string& msg, uint64_t now_ms);
  void retry_later(Upload& u, Phase then, uint64_t now_ms);
  void finish(Upload& u, int status, int err, const std::string& detail);
  void fail_and_cancel(Upload& u, int err, const std::string& detail, uint64_t now_ms);
  void emit_status(const Upload& u, int status, int err, const std::string& detail);
  void emit_progress(Upload& u, uint64_t done, uint64_t now_ms, bool force, int err = 0,
                     const std::string& detail = "");
  Message message_of(const Upload& u, int status) const;
  void save(const Upload& u);

  // upload_resource.cpp: the resource connection.
  bool needs_resource() const;
  void pump_resource(uint64_t now_ms);
  void open_uploads(uint64_t now_ms);
  bool may_presume(const Upload& u) const;
  void ensure_window();
  // A round trip of the path for the lane controller; on a long path the window's cap rises
  // (paced lanes).
  void on_path_rtt(uint64_t rtt_ms);
  void apply_pacing();
  void presume_state(Upload& u, uint32_t slot, uint64_t now_ms);
  void on_presumed_state(Upload& u, const proto::UploadState& st, uint64_t now_ms);
  void dial(uint64_t now_ms);
  void move_resource(const std::string& address, uint64_t now_ms);
  void drop_resource(int err, const std::string& detail, uint64_t now_ms, bool close_socket);
  void send_frame(proto::FrameType type, std::string_view body, uint64_t now_ms);
  void handle_frame(const proto::Frame& f, uint64_t now_ms);
  void on_upload_state(const proto::UploadState& st, uint64_t now_ms);
  void on_upload_done(const proto::UploadDone& d, uint64_t now_ms);
  void on_upload_error(Upload& u, proto::UploadStatus st, const std::string& msg,
                       uint64_t now_ms);
  void drain_window(uint64_t now_ms);
  void release_slot(Upload& u);
  Upload* find_key(uint32_t key) const;
  // Lanes (upload_lanes.cpp).
  struct Lane;
  void steer_lanes(uint64_t now_ms);
  void dial_lane(uint32_t lane, uint64_t now_ms);
  // Closes extra lane `lane` (never lane 0): its chunks go back to the pool.
  void close_lane(uint32_t lane, uint64_t now_ms, bool close_socket);
  void open_extra_lanes(uint64_t now_ms);
  void open_on_lane(uint32_t lane, uint64_t now_ms);
  // What the lane controller is told: the window's work left plus the uploads still being
  // opened (counted in ferry-resd's chunks until their UPLOAD_STATE says).
  LaneController::Inputs lane_inputs() const;
  void on_lane_state(Upload& u, uint32_t lane, const proto::UploadState& st, uint64_t now_ms);
  void on_chunk_ack(uint32_t lane, proto::ChunkAck ack, uint64_t now_ms);
  void handle_lane_frame(uint32_t lane, const proto::Frame& f, uint64_t now_ms);
  void lane_timeouts(uint64_t now_ms);
  uint64_t answer_timeout_ms() const;
  void arm_open_deadline(Upload& u);
  // False when the connection was dropped (the caller must not touch the window).
  bool check_answer_deadlines(uint64_t now_ms);

  UploadManagerConfig config_;
  StateStore& store_;
  RandomSource random_;
  std::string user_;
  std::vector<std::unique_ptr<Upload>> uploads_;  // oldest first
  std::unordered_map<uint64_t, std::string> rids_;  // chat rid -> cid
  std::set<uint64_t> finished_;  // message ids of uploads that ended (pushes about them)
  std::deque<Event> events_;
  std::deque<std::string> file_close_;
  std::deque<OwnSend> own_sends_;
  UploadCounters counters_;

  // The resource connections. rphase_ is lane 0's phase; an extra lane is Idle (none),
  // Dialing, Greeting or Ready.
  struct Lane {
    RPhase phase = RPhase::Idle;
    bool want_connect = false;
    bool want_close = false;
    proto::FrameDecoder decoder{1u << 20};
    std::string out;
    uint64_t last_recv_ms = 0;
    uint64_t last_send_ms = 0;
    uint64_t hello_sent_ms = 0;  // its answer times the path
    uint32_t heartbeat_ms = 10000;
    bool draining = false;  // surplus: takes no new chunks, closes when its chunks are acked
    uint64_t drain_until = 0;
    // Connected and greeted, or greeting: its HELLO is out, so OPENs and chunks may follow.
    bool open() const { return phase == RPhase::Greeting || phase == RPhase::Ready; }
  };
  RPhase rphase_ = RPhase::Idle;
  std::string raddr_;  // address of the connection (the latest grant's `resource`)
  bool raddr_granted_ = false;  // raddr_ came from a grant, not a hint
  std::string chat_ip_;  // on_chat_path
  uint64_t chat_rtt_ms_ = 0;
  Backoff rbackoff_;
  uint64_t reconnect_at_ = 0;
  bool want_connect_ = false;
  bool want_close_ = false;
  proto::FrameDecoder decoder_;
  std::string out_;
  std::unique_ptr<UploadWindow> window_;
  struct SlotRef {
    std::string cid;
    uint32_t lane = 0;
  };
  std::unordered_map<uint32_t, SlotRef> slots_;  // wire slot -> upload and lane
  uint32_t next_slot_ = 1;
  uint64_t last_recv_ms_ = 0;
  uint64_t last_send_ms_ = 0;
  uint64_t hello_sent_ms_ = 0;  // our HELLO on lane 0: its answer times the path
  uint32_t heartbeat_ms_;
  std::vector<Lane> lanes_;  // [0] is unused (lane 0 is the members above); 1.. extra lanes
  bool lane_capable_ = false;
  LaneController controller_;
  struct Job {
    std::string cid;
    uint32_t lane;
    uint32_t slot;  // wire slot on `lane`
    uint32_t key;  // the upload's window key
    uint64_t index;
    uint32_t length;
  };
  std::unordered_map<uint64_t, Job> jobs_;  // reads in progress on this connection
  uint64_t next_job_ = 1;
};

}  // namespace ferry::sdk
