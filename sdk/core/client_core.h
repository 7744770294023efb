// ClientCore: the sans-I/O heart of the SDK. It speaks the chat protocol (docs/protocol.md)
// over a byte stream it never touches: the adapter (sdk/uv/) dials, moves bytes and keeps the
// time; the API layer (sdk/api/) feeds commands in and takes events out. Nothing here reads a
// clock, opens a socket or starts a thread, so tests drive it with scripted frames and a fake
// clock, and every behaviour is deterministic given the injected random source.
//
// What it does, per connection: HELLO; auth with the stored token (or waits for
// register/login); sync from the last delivered id, paged; then (re)sends the outbox.
// Requests and responses are matched by rid. Heartbeats: PING after `heartbeat` ms without
// sending; no frame for 3 heartbeats means the peer is dead. Incoming messages are delivered
// exactly once and in server order: pushes that arrive while a sync runs are buffered and
// delivered after it, and only ids above the last delivered one are delivered at all.
//
// How to drive it (all calls on one thread; `now_ms` is any monotonic clock):
//   start(now)                       once, after construction
//   poll_connect()                   after every call: true = dial now, then report
//                                    on_connected() or on_connect_failed()
//   on_bytes() / on_disconnected()   as the socket reports
//   poll_send()                      after every call: bytes to write, in order
//   poll_close()                     after every call: true = close the socket now and report
//                                    nothing more about it (the core already went offline)
//   poll_timeout() / handle_timeout() arm a timer for the returned time, call when it fires
//   poll_event()                     after every call: events for the app
//   submit_*() / logout()            commands from the app
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/frame.h"
#include "sdk/core/backoff.h"
#include "sdk/core/download_manager.h"
#include "sdk/core/state_store.h"
#include "sdk/core/types.h"
#include "sdk/core/upload_manager.h"

struct cJSON;

namespace ferry::sdk {

struct CoreConfig {
  uint32_t reconnect_min_ms = 200;
  uint32_t reconnect_max_ms = 10000;
  uint32_t heartbeat_ms = 10000;
  // How long register/login/history wait for a usable connection before failing.
  uint64_t request_wait_ms = 30000;
  // false: a send-only client (e.g. the CLI's `send`): no sync, incoming messages ignored and
  // the stored sync position left alone for the client that does read them.
  bool receive = true;
  uint32_t sync_page = 500;
  // Largest frame body accepted from the server. A sync page may hold 500 texts of 64 KiB each
  // (JSON-escaped), so this is far above the server's own 1 MiB request limit.
  uint32_t max_frame_body = 256u << 20;
  std::string agent = "ferry-sdk/0.1.0";
  UploadManagerConfig uploads;  // its agent is set from `agent`
  DownloadManagerConfig downloads;
};

class ClientCore {
 public:
  // The store must outlive the core. Loads session, sync position and outbox from it.
  ClientCore(CoreConfig config, StateStore& store, RandomSource random);

  // --- Transport side ----------------------------------------------------------------------
  void start(uint64_t now_ms);
  bool poll_connect();
  void on_connected(uint64_t now_ms);
  void on_connect_failed(int err, const std::string& detail, uint64_t now_ms);
  void on_bytes(const char* data, size_t len, uint64_t now_ms);
  void on_disconnected(int err, const std::string& detail, uint64_t now_ms);
  std::string poll_send();
  // poll_send() into `buf` (cleared first), swapping buffers so both keep their capacity.
  void take_send(std::string& buf) {
    buf.clear();
    buf.swap(out_);
  }
  bool poll_close();
  void handle_timeout(uint64_t now_ms);
  std::optional<uint64_t> poll_timeout() const;
  bool poll_event(Event& out);
  // The same without moving the event out: the next event, valid until the next call of
  // either, or null.
  const Event* poll_event_ref();

  // --- App side ------------------------------------------------------------------------------
  void submit_register(uint64_t request_id, const std::string& user, const std::string& password,
                       uint64_t now_ms);
  void submit_login(uint64_t request_id, const std::string& user, const std::string& password,
                    uint64_t now_ms);
  void submit_history(uint64_t request_id, const std::string& peer, uint64_t before, uint32_t limit,
                      uint64_t now_ms);
  // The entry is already in the store (the API writes it before returning to the app).
  void submit_send(const OutboxEntry& entry, uint64_t now_ms);
  void submit_send(OutboxEntry&& entry, uint64_t now_ms);
  void logout(uint64_t now_ms);
  // Media uploads (client_media.cpp). The record is already in the store.
  void submit_upload(const PendingUpload& u, uint64_t now_ms);
  bool upload_pause(const std::string& cid, uint64_t now_ms);
  bool upload_resume(const std::string& cid, uint64_t now_ms);
  bool upload_cancel(const std::string& cid, uint64_t now_ms);
  // Sends the chat requests uploads wait for. The core calls it after its own inputs; the
  // adapter also calls it after feeding the upload manager directly (files, resource conn).
  void pump_uploads(uint64_t now_ms);
  // The chat connection's peer address and handshake round trip (TCP_INFO), just before
  // on_connected: the uploads' lanes take it for the resource server's path when that server
  // has the same address (UploadManager::on_chat_path).
  void on_chat_path(const std::string& peer_ip, uint64_t rtt_us) {
    uploads_.on_chat_path(peer_ip, rtt_us);
  }
  // The resource-connection and file side of uploads, driven by the adapter directly.
  UploadManager& uploads() { return uploads_; }
  // Downloads (client_downloads.cpp). The record is already in the store.
  void submit_download(const PendingDownload& d, uint64_t now_ms);
  bool download_pause(uint64_t message_id, uint64_t now_ms);
  bool download_resume(uint64_t message_id, uint64_t now_ms);
  bool download_cancel(uint64_t message_id, uint64_t now_ms);
  void request_download_url(uint64_t request_id, uint64_t message_id, uint32_t ttl_s,
                            uint64_t now_ms);
  // Sends the download_url requests downloads wait for (like pump_uploads).
  void pump_downloads(uint64_t now_ms);
  // The HTTP and file side of downloads, driven by the adapter directly.
  DownloadManager& downloads() { return downloads_; }

  // --- Introspection (tests, API) ----------------------------------------------------------
  int public_state() const { return public_state_; }
  uint64_t last_seen() const { return last_seen_; }
  size_t outbox_size() const { return outbox_.size(); }
  const Session& session() const { return session_; }

  // Acknowledged sends kept to recognise them in a later sync (see OutboxEntry); beyond this
  // many the oldest are forgotten, so a send-only user's outbox stays bounded.
  static constexpr size_t kMaxAckedKept = 4096;

 private:
  enum class Phase { Offline, Dialing, Greeting, Authenticating, Connected, Online };
  enum class Kind { Register, Login, Auth, Logout, Send, Sync, History, Media, Download };

  struct Request {  // a user request waiting to be sent
    Kind kind;
    uint64_t request_id = 0;
    std::string user, password, peer;
    uint64_t before = 0;
    uint32_t limit = 0;
    uint64_t deadline_ms = 0;
  };
  struct InFlight {
    Kind kind;
    Request request;  // for Register/Login/History (History is re-queued on disconnect)
    std::string cid;  // for Send
  };
  struct OutboxItem {
    OutboxEntry entry;
    bool in_flight = false;
  };

  // client_core.cpp: connection lifecycle, frames, heartbeats, timers.
  void begin_dial(uint64_t now);
  void drop_connection(uint64_t now);
  void go_offline(int err, const std::string& detail, uint64_t now, bool close_socket);
  void redial(uint64_t now);
  void protocol_failure(const std::string& detail, uint64_t now);
  void handle_frame(const proto::Frame& f, uint64_t now);
  void handle_hello(std::string_view body, uint64_t now);
  void handle_error_frame(std::string_view body, uint64_t now);
  void send_frame(proto::FrameType type, std::string_view body, uint64_t now);
  uint64_t new_rid() { return next_rid_++; }
  void send_request(uint64_t rid, Kind kind, const std::string& body, InFlight in_flight,
                    uint64_t now);
  void set_public_state(int state, int status, const std::string& detail);
  void emit(Event e) { events_.push_back(std::move(e)); }
  Event& emit_new() { return events_.emplace_back(); }  // emit(), built in place
  void clear_events();
  uint64_t dead_after_ms() const { return 3ull * heartbeat_ms_; }

  // client_requests.cpp: user requests, responses.
  void pump_requests(uint64_t now);
  void authenticate(uint64_t now);
  void send_user_request(const Request& r, uint64_t now);
  bool auth_request_waiting() const;
  // A stored session's auth is on its way: requests may follow it on the wire.
  bool session_auth_in_flight() const;
  void fail_request(const Request& r, int err, const std::string& detail);
  void handle_response(std::string_view body, uint64_t now);
  void on_auth_response(bool ok, const cJSON* body, int err, const std::string& msg, uint64_t now);
  void on_login_response(const InFlight& f, bool ok, const cJSON* body, int err,
                         const std::string& msg, uint64_t now);
  void on_history_response(const InFlight& f, bool ok, const cJSON* body, int err,
                           const std::string& msg, uint64_t now);
  void become_online(uint64_t request_id, uint64_t now);
  void note_resource_hint(const cJSON* body, uint64_t now_ms);
  void expire_requests(uint64_t now);

  // client_delivery.cpp: sync, pushes, dedup, outbox.
  void start_sync(uint64_t now);
  void on_sync_response(bool ok, const cJSON* body, int err, const std::string& msg, uint64_t now);
  void finish_sync(uint64_t now);
  void handle_push(std::string_view body, uint64_t now);
  void on_message_push(Message m, uint64_t now);
  void deliver(Message m);
  void note_own_uploads();
  void resend_outbox(uint64_t now);
  void send_outbox_item(OutboxItem& item, uint64_t now);
  void on_send_response(const InFlight& f, bool ok, const cJSON* body, int err,
                        const std::string& msg, uint64_t now);
  void on_send_ok(const std::string& cid, Message m, uint64_t now);
  void acknowledge(OutboxItem& item, Message m);
  void remove_outbox(std::string_view cid);
  void prune_acked();
  void drop_outbox(int err, const std::string& detail);

  // client_media.cpp: pushes about media messages.
  void handle_media_push(const std::string& event, const cJSON* body, uint64_t now);
  void remember_media(const Message& m);

  CoreConfig config_;
  StateStore& store_;
  Backoff backoff_;
  proto::FrameDecoder decoder_;
  std::string out_;
  // The events not yet polled: events_[events_head_...]. A vector reused across inputs (an
  // Event is too big for a deque to hold more than one per allocation).
  std::vector<Event> events_;
  size_t events_head_ = 0;
  Event polled_;  // poll_event_ref(): an upload or download event

  Phase phase_ = Phase::Offline;
  // Our HELLO is out and the server's not yet in (the phase may already be Authenticating:
  // the auth rides with the HELLO).
  bool awaiting_hello_ = false;
  int public_state_ = -1;  // none emitted yet
  bool want_connect_ = false;
  bool want_close_ = false;
  bool started_ = false;
  uint64_t reconnect_at_ = 0;   // Offline
  uint64_t dial_deadline_ = 0;  // Dialing
  uint64_t last_recv_ms_ = 0;
  uint64_t last_send_ms_ = 0;
  uint32_t heartbeat_ms_;

  Session session_;
  uint64_t last_seen_ = 0;
  uint64_t stored_last_seen_ = 0;  // what the store holds; written once per input
  std::list<OutboxItem> outbox_;
  // Keyed by a view of the item's own cid (list nodes never move; an entry goes before its item).
  std::unordered_map<std::string_view, std::list<OutboxItem>::iterator> outbox_by_cid_;
  // Server id -> cid of acknowledged entries kept: a view of the outbox item's own cid (an
  // item with server_id X is removed only through remove_outbox(), which erases acked_[X]).
  std::map<uint64_t, std::string_view> acked_;
  uint64_t retry_at_ = 0;  // resend the outbox after a server-side failure; 0 = none

  uint64_t next_rid_ = 1;
  std::deque<Request> pending_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  bool syncing_ = false;
  std::vector<Message> sync_buffer_;  // pushes received while a sync runs

  UploadManager uploads_;
  DownloadManager downloads_;
  // Received media messages still uploading (without thumbnails), so that later status and
  // progress pushes, which carry only the id, can name the message. Bounded.
  std::map<uint64_t, Message> uploading_media_;
  static constexpr size_t kUploadingMediaKept = 1024;
  // Upload requests sent behind a stored session's auth before its answer, at most.
  static constexpr size_t kRequestsBehindAuth = 4;
};

}  // namespace ferry::sdk
