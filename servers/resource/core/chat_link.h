// ChatLink: ferry-resd's side of the authenticated link to ferry-chatd (docs/protocol.md §7),
// as a sans-I/O state machine. The adapter owns the TCP connection and tells the link what
// happened; the link says what to send, when to close, and when to connect again.
//
//   DOWN --connect_due--> CONNECTING --on_connected--> HELLO sent --HELLO(challenge)-->
//   peer_auth sent --ok--> READY (outbox flushed, progress relayed, cancel pushes handled)
//   any failure or on_closed --> DOWN with backoff (100 ms doubling to 5 s; reset on READY)
//
// Calling contract:
//   connect_due(now)      true when the adapter should start a connection attempt now;
//                         then on_connecting(now), and on_connected(now) or on_closed(now)
//   on_bytes(...)         bytes from chatd, in order, any split
//   on_closed(now)        the connection (or attempt) ended, for any reason
//   handle_timeout(now)   when now >= poll_timeout()
//   then drain poll_send() (one coalesced write), poll_close() and poll_event().
//
// The outbox: notify_done() adds a finished upload; it is sent as soon as the link is READY
// and again after every reconnect until chatd answers it (upload_done is idempotent on the
// chat side). An answer — ok, or a permanent refusal such as bad_request — yields a DoneAcked
// event so the owner can delete its durable outbox record; a transient error (internal) is
// retried after retry_ms.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proto/frame.h"

namespace ferry::resource {

struct LinkConfig {
  std::string key;        // shared HMAC key (raw bytes, from the secret file)
  std::string advertise;  // HOST:PORT handed to clients by chatd
  std::string http;       // HOST:PORT of the HTTP download listener; empty = none (not sent)
  int64_t backoff_min_ms = 100;
  int64_t backoff_max_ms = 5000;
  int64_t handshake_timeout_ms = 10000;  // connect + HELLO + peer_auth
  int64_t retry_ms = 5000;               // re-send an upload_done that got a transient error
  int64_t default_heartbeat_ms = 10000;  // when chatd's HELLO does not say
  int64_t default_idle_timeout_ms = 30000;
};

struct LinkEvent {
  enum class Kind {
    Cancel,     // chatd says: delete the partial upload of message_id
    Bind,       // chatd says: message_id's upload has this whole-file hash (text, 64 hex)
    DoneAcked,  // chatd answered upload_done for message_id: drop its outbox record
    Log,        // something an operator wants to see (text)
  };
  Kind kind = Kind::Cancel;
  uint64_t message_id = 0;
  std::string text;
};

class ChatLink {
 public:
  enum class State { Down, Connecting, Hello, Auth, Ready };

  explicit ChatLink(LinkConfig config);

  bool connect_due(int64_t now_ms) const;
  void on_connecting(int64_t now_ms);
  void on_connected(int64_t now_ms);
  void on_bytes(const char* data, size_t len, int64_t now_ms);
  void on_closed(int64_t now_ms);
  void handle_timeout(int64_t now_ms);
  int64_t poll_timeout() const;

  // Adds (or keeps) an outbox entry; sent when READY, re-sent on every reconnect.
  void notify_done(uint64_t message_id, uint64_t size, const std::string& sha256_hex,
                   int64_t now_ms);
  // Relays progress if READY (the caller throttles); dropped otherwise — progress is advisory.
  void progress(uint64_t message_id, uint64_t done, uint64_t total);

  bool poll_send(std::string& bytes);
  bool poll_close();
  bool poll_event(LinkEvent& event);

  State state() const { return state_; }
  bool ready() const { return state_ == State::Ready; }
  size_t outbox_size() const { return outbox_.size(); }
  void set_advertise(std::string advertise) { config_.advertise = std::move(advertise); }
  // Peer_auth mac for a challenge (exposed for tests): hex(HMAC-SHA256(key, prefix+challenge)).
  static std::string peer_mac(std::string_view key, std::string_view challenge);

 private:
  struct Pending {
    uint64_t size = 0;
    std::string sha256_hex;
    uint64_t rid = 0;  // in flight on the current connection, 0 = not sent
    int64_t retry_at_ms = 0;
  };
  enum class RidKind { Auth, Progress, Done };

  void fail(const std::string& why);
  void log(std::string text);
  void on_frame(proto::FrameType type, std::string_view body, int64_t now_ms);
  void on_hello(std::string_view body, int64_t now_ms);
  void on_response(std::string_view body, int64_t now_ms);
  void on_push(std::string_view body);
  void send(proto::FrameType type, std::string_view body, int64_t now_ms);
  uint64_t request(RidKind kind, uint64_t message_id, const std::string& json_tail);
  void send_outbox(int64_t now_ms);

  LinkConfig config_;
  State state_ = State::Down;
  int64_t next_attempt_ms_ = 0;  // when Down
  int64_t backoff_ms_;
  int64_t state_deadline_ms_ = 0;  // Connecting/Hello/Auth: handshake deadline
  int64_t heartbeat_ms_ = 0;
  int64_t idle_timeout_ms_ = 0;
  int64_t last_rx_ms_ = 0;
  int64_t last_tx_ms_ = 0;
  bool close_requested_ = false;
  bool close_reported_ = false;
  proto::FrameDecoder decoder_;
  std::string out_;
  uint64_t next_rid_ = 1;
  std::unordered_map<uint64_t, std::pair<RidKind, uint64_t>> rids_;  // rid -> (kind, message)
  std::map<uint64_t, Pending> outbox_;                               // by message id
  std::deque<LinkEvent> events_;
};

}  // namespace ferry::resource
