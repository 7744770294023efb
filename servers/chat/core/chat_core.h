// ChatCore: the chat server's logic as a sans-I/O state machine (no sockets, no threads, no
// clock). The adapter feeds it connection events and the time, and drains its outputs.
//
// Calling contract (the uv adapter in servers/chat/uv/ follows it; tests drive it directly):
//   on_open(conn)             a connection was accepted; `conn` is any id unique while open
//   on_bytes(conn, ...)       bytes arrived; call in arrival order, any split
//   on_close(conn)            the transport is closed (peer left, or after poll_close)
//   on_slow_consumer(conn)    the transport's unsent output passed its bound
//   on_hash_done(job, hash)   a HashJob from poll_hash_job() finished
//   flush(now)                once per loop iteration after all I/O callbacks: commits the
//                             pending sends in ONE transaction, then emits their responses and
//                             pushes in id order (group commit)
//   handle_timeout(now)       when now >= poll_timeout()
//   then drain: poll_hash_job() until false, poll_send() until false, and only then
//   poll_close() until false (a closing connection's last bytes come from poll_send first).
//
// Times are milliseconds since the Unix epoch from a clock that never goes backwards (the
// adapter anchors its monotonic loop clock to the wall clock once); message `ts` uses it too.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proto/frame.h"
#include "proto/json.h"
#include "servers/chat/store/chat_store.h"

namespace ferry::chat {

using ConnId = uint64_t;
inline constexpr int64_t kNoTimeout = INT64_MAX;

struct CoreConfig {
  uint32_t kdf_iterations = 210000;
  int64_t idle_timeout_ms = 30000;
  int64_t heartbeat_ms = 10000;
  uint32_t max_frame = proto::kDefaultMaxBody;
  int error_streak_max = 32;
  // Source of salts, tokens and HELLO challenges; null means proto::random_bytes (OpenSSL).
  std::function<std::string(size_t)> random_bytes;
  // The shared HMAC key (raw bytes, from proto::load_or_create_secret): signs upload tickets
  // and checks a resource server's peer_auth. Empty: no resource server can link.
  std::string secret_key;
  int64_t upload_ticket_lifetime_ms = 24 * 3600 * 1000;
  // How far back a linking resource server is sent `cancel` events (section 7).
  int64_t cancel_catchup_ms = 7 * 24 * 3600 * 1000LL;
  // How far back, and how many, `bind` events a linking resource server is sent (section 7).
  // Kept in memory only: they matter for the minutes after a bind. A bind that was answered
  // before a chat server restart had its push sent then; the client's bind_hash after a
  // restart is remembered even while no resource server is linked.
  int64_t bind_catchup_ms = 10 * 60 * 1000;
  size_t bind_catchup_max = 1024;
  // Response bodies of sync/history stop growing past this (at least one message is always
  // returned; `more` tells the client to page on). Media thumbnails make a message up to
  // ~87 KiB, so 1000 of them would otherwise be an 87 MiB frame.
  size_t page_bytes_max = 4u << 20;
};

// Password hashing to run off the network loop (see password.h).
struct HashJob {
  uint64_t id = 0;
  std::string password;
  std::string salt;
  uint32_t iterations = 0;
};

class ChatCore {
 public:
  // `store` is borrowed and must outlive the core.
  ChatCore(ChatStore& store, CoreConfig config);
  ~ChatCore();
  ChatCore(const ChatCore&) = delete;
  ChatCore& operator=(const ChatCore&) = delete;

  void on_open(ConnId conn, int64_t now_ms);
  void on_bytes(ConnId conn, const char* data, size_t len, int64_t now_ms);
  void on_close(ConnId conn);
  void on_slow_consumer(ConnId conn);
  void on_hash_done(uint64_t job_id, const std::string& hash, int64_t now_ms);
  void flush(int64_t now_ms);
  void handle_timeout(int64_t now_ms);
  // Absolute time of the next timeout, or kNoTimeout.
  int64_t poll_timeout() const { return conns_.empty() ? kNoTimeout : next_deadline_ms_; }
  // Commits pending sends, tells every client `shutting_down` and closes them all. New
  // connections after this are refused the same way.
  void shutdown(int64_t now_ms);

  bool poll_hash_job(HashJob& job);
  // Moves one connection's whole pending output into `bytes` (coalesced: one write per
  // connection per iteration).
  bool poll_send(ConnId& conn, std::string& bytes);
  bool poll_close(ConnId& conn);

  size_t connection_count() const { return conns_.size(); }
  size_t pending_sends() const { return batch_.size(); }
  // The address clients are given for the resource server: the `advertise` of the latest
  // successful peer_auth. It outlives the peer connection (see peer.cpp); empty until a
  // resource server has linked since this core started.
  const std::string& resource_address() const { return resource_address_; }
  // The resource server's HTTP address for download URLs: the `http` of the latest peer_auth
  // that carried one (docs/protocol-download.md §1). Outlives the link like the address
  // above; empty until announced.
  const std::string& http_address() const { return http_address_; }
  size_t peer_count() const { return peers_.size(); }

 private:
  // Peer: a resource server that passed peer_auth; only peer ops are allowed on it.
  enum class State { Connected, Greeted, Authenticated, Peer };

  struct Conn {
    ConnId id = 0;
    proto::FrameDecoder decoder;
    State state = State::Connected;
    bool closing = false;    // a fatal ERROR is queued: input is ignored, close follows
    bool dirty = false;      // listed in dirty_
    uint64_t user_id = 0;    // when Authenticated
    std::string token_hash;  // SHA-256 of this connection's session token
    int error_streak = 0;    // request errors in a row
    int64_t last_rx_ms = 0;
    // Non-zero while this connection's register/login is being hashed. Its later frames stay
    // in the decoder until then, so requests are still answered in arrival order.
    uint64_t hash_job = 0;
    uint32_t pending_sends = 0;  // this connection's sends in the uncommitted batch
    std::string challenge;       // hex, sent in HELLO; a peer_auth MAC covers it
    std::string out;
  };

  enum class AuthKind { Register, Login };
  struct AuthJob {
    AuthKind kind = AuthKind::Register;
    ConnId conn = 0;
    uint64_t rid = 0;
    std::string name;
    uint64_t user_id = 0;  // login: 0 when the user does not exist (a decoy hash still runs)
    std::string salt;
    std::string expected_hash;  // login
    uint32_t iterations = 0;
  };

  // A send request waiting for the group commit.
  struct Waiter {
    ConnId conn = 0;
    uint64_t rid = 0;
    size_t index = 0;        // into batch_
    bool duplicate = false;  // a retry of a send still in the same batch
  };

  // connection.cpp: frames, HELLO, connection-level errors, output, timeouts.
  Conn* find(ConnId id);
  void process_input(Conn& c, int64_t now_ms);
  void on_frame(Conn& c, const proto::Frame& f, int64_t now_ms);
  void on_hello(Conn& c, std::string_view body);
  void send_frame(Conn& c, proto::FrameType type, std::string_view body);
  void send_error(Conn& c, const char* code, const std::string& message, bool fatal);
  void fatal(Conn& c, const char* code, const std::string& message);
  void count_error(Conn& c);
  void route_add(Conn& c);
  void route_remove(Conn& c);

  // request.cpp: REQUEST parsing, dispatch, responses.
  void on_request(Conn& c, std::string_view body, int64_t now_ms);
  bool check_fields(Conn& c, uint64_t rid, const cJSON* req,
                    std::initializer_list<const char*> allowed);
  bool require_auth(Conn& c, uint64_t rid);
  void respond_ok(Conn& c, uint64_t rid, cJSON* result);
  void respond_raw_ok(Conn& c, uint64_t rid, std::string_view fields);
  void respond_error(Conn& c, uint64_t rid, const char* code, const std::string& message);
  bool lookup_user(const std::string& name, uint64_t& id, bool& failed);
  const std::string& user_name(uint64_t id);

  // accounts.cpp
  void op_register(Conn& c, uint64_t rid, const cJSON* req);
  void op_login(Conn& c, uint64_t rid, const cJSON* req);
  void op_auth(Conn& c, uint64_t rid, const cJSON* req);
  void op_logout(Conn& c, uint64_t rid, const cJSON* req);
  void start_hash(Conn& c, AuthJob job, const std::string& password);
  void finish_register(Conn& c, const AuthJob& job, const std::string& hash);
  void finish_login(Conn& c, const AuthJob& job, const std::string& hash);
  void authenticate(Conn& c, uint64_t rid, uint64_t user_id, bool new_token, int64_t now_ms);
  std::string random(size_t n);

  // messaging.cpp
  void op_send(Conn& c, uint64_t rid, const cJSON* req);
  void op_sync(Conn& c, uint64_t rid, const cJSON* req);
  void op_history(Conn& c, uint64_t rid, const cJSON* req);
  void enqueue_send(Conn& c, uint64_t rid, NewMessage m);
  void answer_send(Conn& c, uint64_t rid, const StoredMessage& m, const std::string& json,
                   bool duplicate);
  std::string message_json(const StoredMessage& m);
  void respond_messages(Conn& c, uint64_t rid, const std::vector<StoredMessage>& msgs, bool more,
                        bool keep_newest);
  void push_message(const StoredMessage& m, ConnId origin, const std::string& json);

  // media.cpp: client ops on media messages (section 6).
  void op_send_media(Conn& c, uint64_t rid, const cJSON* req);
  void op_upload_ticket(Conn& c, uint64_t rid, const cJSON* req);
  void op_bind_hash(Conn& c, uint64_t rid, const cJSON* req);
  void push_bind(const StoredMessage& m);  // to every linked resource server
  void op_cancel_upload(Conn& c, uint64_t rid, const cJSON* req);
  bool read_media(Conn& c, uint64_t rid, const cJSON* req, const std::string& kind,
                  MediaInfo& media);
  bool find_own_upload(Conn& c, uint64_t rid, const cJSON* req, StoredMessage& m,
                       std::initializer_list<const char*> fields = {"op", "rid", "message_id"});
  std::string upload_json(const StoredMessage& m);
  void push_status(const StoredMessage& m, ConnId origin);
  void push_to_parties(const StoredMessage& m, ConnId origin, const std::string& body);

  // download.cpp: download URLs for the parties of a ready media message.
  void op_download_url(Conn& c, uint64_t rid, const cJSON* req);
  std::string download_json(const StoredMessage& m, uint64_t user_id, uint64_t ttl_s);

  // peer.cpp: the resource-server link (section 7).
  void op_peer_auth(Conn& c, uint64_t rid, const cJSON* req);
  void op_upload_progress(Conn& c, uint64_t rid, const cJSON* req);
  void op_upload_done(Conn& c, uint64_t rid, const cJSON* req);
  bool require_peer(Conn& c, uint64_t rid);
  bool find_media_for_peer(Conn& c, uint64_t rid, uint64_t id, StoredMessage& m);
  void push_progress(const StoredMessage& m, uint64_t done);
  void push_cancel(uint64_t message_id, Conn* only);
  StoreStatus binds_to_replay(std::vector<std::string>& events);  // for a linking resd

  ChatStore& store_;
  CoreConfig config_;
  bool shutting_down_ = false;
  int64_t next_deadline_ms_ = kNoTimeout;
  int64_t now_ms_ = 0;  // time of the event being handled (for handlers that need it)

  std::unordered_map<ConnId, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint64_t, std::vector<ConnId>> routes_;  // user id -> authenticated conns
  std::vector<ConnId> peers_;     // linked resource servers, oldest first
  std::string resource_address_;  // see resource_address()
  std::string http_address_;      // see http_address()
  std::vector<ConnId> dirty_;     // connections with output, in first-output order
  size_t dirty_pos_ = 0;          // poll_send() progress through dirty_
  std::vector<ConnId> closing_;   // connections to close once their output is drained

  // Name cache: users are never renamed or deleted, so entries never go stale.
  std::unordered_map<std::string, uint64_t> id_by_name_;
  std::unordered_map<uint64_t, std::string> name_by_id_;

  // Binds pushed lately, oldest first, one per message (CoreConfig::bind_catchup_ms). A push
  // sent while no resource server was linked (a link blip, or a client's bind_hash that beat
  // the resd's relink after a chat server restart) would otherwise leave a fully uploaded
  // file unbound until the client's verdict deadline (a minute) makes it OPEN again with the
  // bound ticket.
  // The hash is the stored message's: a message is bound once (another hash is a conflict).
  struct RecentBind {
    uint64_t message_id = 0;
    int64_t at_ms = 0;
  };
  std::deque<RecentBind> recent_binds_;

  std::deque<HashJob> hash_queue_;
  std::unordered_map<uint64_t, AuthJob> auth_jobs_;
  uint64_t next_job_id_ = 1;

  // The group-commit batch: messages to insert and the requests waiting for them.
  std::vector<NewMessage> batch_;
  std::vector<Waiter> waiters_;
  std::map<std::pair<uint64_t, std::string>, size_t> batch_by_cid_;  // (sender, cid) -> index
};

}  // namespace ferry::chat
