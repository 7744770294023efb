// Proves the SDK's sans-I/O client core keeps its promises: the HELLO/auth/sync sequence,
// outbox resend after reconnect, exactly-once in-order delivery when sync and pushes overlap,
// own messages from a sync acknowledging sends, backoff growth and jitter bounds, heartbeats
// and dead-peer detection, error mapping, and disconnect on garbage.
//
// How: a ClientCore runs against a scripted server. The test decodes every frame the core
// writes (with the real codec), answers with hand-written frames, and moves a fake clock.
// The random source is a fixed sequence, so every run is identical. No sockets, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/json.h"
#include "sdk/core/backoff.h"
#include "sdk/core/client_core.h"
#include "sdk/core/errors.h"
#include "sdk/core/wire.h"
#include "sdk/include/ferry.h"
#include "tests/unit/sdk_fake_store.h"

namespace ferry::sdk {
namespace {

using proto::FrameType;

struct Sent {
  FrameType type;
  std::string body;
  proto::Json json;  // null for PING/PONG
  std::string op() const { return str("op"); }
  std::string str(const char* k) const {
    const cJSON* f = json ? cJSON_GetObjectItemCaseSensitive(json.get(), k) : nullptr;
    return cJSON_IsString(f) ? f->valuestring : "";
  }
  uint64_t num(const char* k) const {
    const cJSON* f = json ? cJSON_GetObjectItemCaseSensitive(json.get(), k) : nullptr;
    return cJSON_IsNumber(f) ? static_cast<uint64_t>(f->valuedouble) : UINT64_MAX;
  }
};

std::string msg_json(uint64_t id, const std::string& from, const std::string& to,
                     const std::string& text, const std::string& cid = "") {
  std::string c = cid.empty() ? "cid" + std::to_string(id) + "xxxxxx" : cid;
  return R"({"id":)" + std::to_string(id) + R"(,"cid":")" + c + R"(","from":")" + from +
         R"(","to":")" + to + R"(","kind":"text","text":")" + text + R"(","ts":1700000000000})";
}


class Harness {
 public:
  using Prepare = std::function<void(FakeStore&)>;
  explicit Harness(CoreConfig cfg = {}, std::vector<uint32_t> randoms = {250},
                   const Prepare& prepare = {})
      : prepared_(prepare ? (prepare(store), true) : false),
        randoms_(randoms.begin(), randoms.end()),
        core(cfg, store, [this] {
          uint32_t r = randoms_.front();
          randoms_.push_back(r);
          randoms_.pop_front();
          return r;
        }) {}

  FakeStore store;  // filled by `prepare` before the core loads it
  bool prepared_;
  std::deque<uint32_t> randoms_;
  ClientCore core;
  uint64_t now = 1000;
  proto::FrameDecoder decoder{256u << 20};

  // Everything the core wrote since the last call, decoded.
  std::vector<Sent> sent() {
    std::string bytes = core.poll_send();
    decoder.feed(bytes.data(), bytes.size());
    std::vector<Sent> out;
    proto::Frame f;
    while (decoder.next(f) == proto::DecodeStatus::Ready) {
      Sent s{f.type, std::string(f.body), nullptr};
      if (f.type == FrameType::Hello || f.type == FrameType::Request) {
        s.json = proto::json_parse(s.body);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  std::vector<Event> events() {
    std::vector<Event> out;
    Event e;
    while (core.poll_event(e)) out.push_back(std::move(e));
    return out;
  }
  void feed(FrameType type, const std::string& body) {
    std::string bytes;
    proto::encode_frame(bytes, type, body);
    core.on_bytes(bytes.data(), bytes.size(), now);
  }
  void respond(uint64_t rid, const std::string& fields) {
    feed(FrameType::Response, R"({"rid":)" + std::to_string(rid) + R"(,"ok":true)" +
                                  (fields.empty() ? "" : "," + fields) + "}");
  }
  void respond_error(uint64_t rid, const std::string& code) {
    feed(FrameType::Response, R"({"rid":)" + std::to_string(rid) +
                                  R"(,"ok":false,"error":{"code":")" + code +
                                  R"(","message":"nope"}})");
  }
  void push(const std::string& message) {
    feed(FrameType::Push, R"({"event":"message","message":)" + message + "}");
  }
  // Dial, connect and exchange HELLOs; returns what the core sent after the server HELLO.
  std::vector<Sent> connect(uint32_t heartbeat_ms = 10000) {
    if (!core.poll_connect()) {
      core.handle_timeout(now);
      EXPECT_TRUE(core.poll_connect());
    }
    core.on_connected(now);
    std::vector<Sent> hello = sent();
    EXPECT_GE(hello.size(), 1u);
    if (hello.empty()) return {};
    EXPECT_EQ(hello[0].type, FrameType::Hello);
    EXPECT_EQ(hello[0].num("proto"), 1u);
    // With something to authenticate with, the auth or login rides behind the HELLO.
    std::vector<Sent> out(std::make_move_iterator(hello.begin() + 1),
                          std::make_move_iterator(hello.end()));
    feed(FrameType::Hello, R"({"proto":1,"server":"t","max_frame":1048576,"heartbeat_ms":)" +
                               std::to_string(heartbeat_ms) + R"(,"idle_timeout_ms":30000})");
    for (Sent& x : sent()) out.push_back(std::move(x));
    return out;
  }
  // Takes the client all the way to ONLINE with a stored session and an empty sync.
  void go_online() {
    std::vector<Sent> s = connect();
    EXPECT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].op(), "auth");
    respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
    std::vector<Sent> sync = sent();
    EXPECT_EQ(sync.size(), 1u);
    EXPECT_EQ(sync[0].op(), "sync");
    respond(sync[0].num("rid"), R"("messages":[],"more":false)");
  }
};

// A started client whose store already holds alice's session (and more) when the core loads it.
std::unique_ptr<Harness> with_session(CoreConfig cfg = {}, std::vector<OutboxEntry> outbox = {},
                                      uint64_t last_seen = 0) {
  auto h = std::make_unique<Harness>(cfg, std::vector<uint32_t>{250}, [&](FakeStore& st) {
    st.set_session(Session{"alice", 1, "tok"});
    st.set_last_seen(last_seen);
    for (OutboxEntry e : outbox) st.outbox_add(e);
  });
  h->core.start(h->now);
  return h;
}

std::vector<int> types(const std::vector<Event>& ev) {
  std::vector<int> t;
  for (const Event& e : ev) t.push_back(e.type);
  return t;
}

std::vector<uint64_t> message_ids(const std::vector<Event>& ev) {
  std::vector<uint64_t> ids;
  for (const Event& e : ev) {
    if (e.type == FERRY_EVENT_MESSAGE) ids.push_back(e.message.id);
  }
  return ids;
}

TEST(sdk_core, hello_auth_sync_sequence) {
  auto h = with_session({}, {}, 7);
  std::vector<Event> ev = h->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].conn_state, FERRY_CONN_CONNECTING);
  std::vector<Sent> s = h->connect();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "auth");
  EXPECT_EQ(s[0].str("token"), "tok");
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  ev = h->events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].conn_state, FERRY_CONN_ONLINE);
  EXPECT_EQ(ev[1].type, FERRY_EVENT_AUTH);
  EXPECT_EQ(ev[1].status, FERRY_OK);
  EXPECT_EQ(ev[1].request_id, 0u);
  // Sync from the stored position, paged while `more` says so.
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "sync");
  EXPECT_EQ(s[0].num("since"), 7u);
  h->respond(s[0].num("rid"), R"("messages":[)" + msg_json(8, "bob", "alice", "a") + "," +
                                  msg_json(9, "bob", "alice", "b") + R"(],"more":true)");
  EXPECT_EQ(message_ids(h->events()), (std::vector<uint64_t>{8, 9}));
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].num("since"), 9u);
  h->respond(s[0].num("rid"),
             R"("messages":[)" + msg_json(12, "bob", "alice", "c") + R"(],"more":false)");
  ev = h->events();
  EXPECT_EQ(types(ev), (std::vector<int>{FERRY_EVENT_MESSAGE, FERRY_EVENT_SYNCED}));
  EXPECT_EQ(h->store.last_seen(), 12u);
  EXPECT_TRUE(h->sent().empty());
}

TEST(sdk_core, no_session_waits_for_login) {
  Harness h;
  h.core.start(h.now);
  std::vector<Sent> s = h.connect();
  EXPECT_TRUE(s.empty());
  std::vector<Event> ev = h.events();
  EXPECT_EQ(ev.back().conn_state, FERRY_CONN_CONNECTED);
  h.core.submit_login(42, "alice", "password1", h.now);
  s = h.sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "login");
  EXPECT_EQ(s[0].str("password"), "password1");
  h.respond(s[0].num("rid"), R"("user_id":3,"user":"alice","token":"t0k")");
  ev = h.events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].type, FERRY_EVENT_AUTH);
  EXPECT_EQ(ev[1].request_id, 42u);
  EXPECT_EQ(ev[1].user_id, 3u);
  EXPECT_EQ(h.store.session().token, "t0k");
  EXPECT_EQ(h.sent()[0].op(), "sync");
}

TEST(sdk_core, register_error_maps_to_event_and_stays_connected) {
  Harness h;
  h.core.start(h.now);
  h.connect();
  h.core.submit_register(5, "alice", "password1", h.now);
  std::vector<Sent> s = h.sent();
  ASSERT_EQ(s[0].op(), "register");
  h.events();
  h.respond_error(s[0].num("rid"), "user_exists");
  std::vector<Event> ev = h.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, FERRY_EVENT_AUTH);
  EXPECT_EQ(ev[0].status, FERRY_EUSEREXISTS);
  EXPECT_EQ(ev[0].request_id, 5u);
  // Still usable: a login goes out on the same connection.
  h.core.submit_login(6, "alice", "password1", h.now);
  EXPECT_EQ(h.sent()[0].op(), "login");
}

TEST(sdk_core, request_while_offline_fails_after_wait) {
  Harness h;
  h.core.start(h.now);
  ASSERT_TRUE(h.core.poll_connect());
  h.core.on_connect_failed(FERRY_ECONNREFUSED, "refused", h.now);
  h.core.submit_register(9, "alice", "password1", h.now);
  h.events();
  h.now += 29999;
  h.core.handle_timeout(h.now);
  for (const Event& e : h.events()) EXPECT_NE(e.type, FERRY_EVENT_AUTH);
  h.now += 1;
  h.core.handle_timeout(h.now);
  bool failed = false;
  for (const Event& e : h.events()) {
    if (e.type == FERRY_EVENT_AUTH) {
      EXPECT_EQ(e.status, FERRY_ENOTCONN);
      EXPECT_EQ(e.request_id, 9u);
      failed = true;
    }
  }
  EXPECT_TRUE(failed);
}

TEST(sdk_core, outbox_resent_after_reconnect_and_acked_once) {
  auto h = with_session();
  h->go_online();
  h->events();
  h->core.submit_send(OutboxEntry{"cid-one-1234", "bob", "hi", 0, 0}, h->now);
  std::vector<Sent> s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "send");
  EXPECT_EQ(s[0].str("cid"), "cid-one-1234");
  // The connection dies before the answer.
  h->core.on_disconnected(FERRY_ENOTCONN, "reset", h->now);
  EXPECT_EQ(h->events().back().conn_state, FERRY_CONN_OFFLINE);
  h->now += 10000;
  std::vector<Sent> auth = h->connect();
  h->respond(auth[0].num("rid"), R"("user_id":1,"user":"alice")");
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "sync");  // the outbox waits for the sync
  h->respond(s[0].num("rid"), R"("messages":[],"more":false)");
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "send");
  EXPECT_EQ(s[0].str("cid"), "cid-one-1234");
  h->events();
  h->respond(s[0].num("rid"),
             R"("duplicate":true,"message":)" + msg_json(20, "alice", "bob", "hi", "cid-one-1234"));
  std::vector<Event> ev = h->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, FERRY_EVENT_MESSAGE_STATUS);
  EXPECT_EQ(ev[0].message.status, FERRY_MSG_SENT);
  EXPECT_EQ(ev[0].message.id, 20u);
  EXPECT_EQ(ev[0].message.cid, "cid-one-1234");
  // After another reconnect the sync returns it: recognised as ours, reported nowhere again.
  h->core.on_disconnected(FERRY_ENOTCONN, "reset", h->now);
  h->now += 10000;
  auth = h->connect();
  h->respond(auth[0].num("rid"), R"("user_id":1,"user":"alice")");
  s = h->sent();
  ASSERT_EQ(s[0].op(), "sync");
  h->events();
  h->respond(s[0].num("rid"), R"("messages":[)" +
                                  msg_json(20, "alice", "bob", "hi", "cid-one-1234") + "," +
                                  msg_json(21, "bob", "alice", "yo") + R"(],"more":false)");
  ev = h->events();
  EXPECT_EQ(types(ev), (std::vector<int>{FERRY_EVENT_MESSAGE, FERRY_EVENT_SYNCED}));
  EXPECT_EQ(message_ids(ev), (std::vector<uint64_t>{21}));
  EXPECT_TRUE(h->sent().empty());
  EXPECT_EQ(h->core.outbox_size(), 0u);  // pruned once the sync position passed id 20
}

TEST(sdk_core, pushes_during_sync_are_delivered_once_in_order) {
  auto h = with_session({}, {}, 3);
  std::vector<Sent> s = h->connect();
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  s = h->sent();
  ASSERT_EQ(s[0].op(), "sync");
  h->events();
  h->push(msg_json(6, "bob", "alice", "six"));
  h->push(msg_json(5, "bob", "alice", "five"));
  EXPECT_TRUE(h->events().empty());  // buffered while the sync runs
  h->respond(s[0].num("rid"), R"("messages":[)" + msg_json(4, "bob", "alice", "four") + "," +
                                  msg_json(5, "bob", "alice", "five") + R"(],"more":false)");
  h->push(msg_json(6, "bob", "alice", "six again"));
  h->push(msg_json(7, "bob", "alice", "seven"));
  std::vector<Event> ev = h->events();
  EXPECT_EQ(message_ids(ev), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_EQ(h->core.last_seen(), 7u);
}

TEST(sdk_core, own_message_from_sync_marks_sent) {
  OutboxEntry pending{"cid-pending-1", "bob", "queued", 0, 0};
  auto h = with_session({}, {pending}, 0);
  std::vector<Sent> s = h->connect();
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].op(), "sync");
  h->events();
  h->respond(s[0].num("rid"), R"("messages":[)" +
                                  msg_json(11, "alice", "bob", "queued", "cid-pending-1") +
                                  R"(],"more":false)");
  std::vector<Event> ev = h->events();
  EXPECT_EQ(types(ev), (std::vector<int>{FERRY_EVENT_MESSAGE_STATUS, FERRY_EVENT_SYNCED}));
  EXPECT_EQ(ev[0].message.status, FERRY_MSG_SENT);
  EXPECT_EQ(ev[0].message.id, 11u);
  EXPECT_TRUE(h->sent().empty());  // already stored: not sent again
  EXPECT_TRUE(h->store.outbox().empty());
}

TEST(sdk_core, send_refused_reports_failed_and_leaves_outbox) {
  auto h = with_session();
  h->go_online();
  h->events();
  h->core.submit_send(OutboxEntry{"cid-zed-12345", "zed", "hi", 0, 0}, h->now);
  std::vector<Sent> s = h->sent();
  h->respond_error(s[0].num("rid"), "unknown_user");
  std::vector<Event> ev = h->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].message.status, FERRY_MSG_FAILED);
  EXPECT_EQ(ev[0].status, FERRY_EUNKNOWNUSER);
  EXPECT_EQ(h->core.outbox_size(), 0u);
}

TEST(sdk_core, backoff_grows_to_cap_with_bounded_jitter) {
  uint32_t r = 0;
  Backoff b(100, 1000, [&r] { return r; });
  std::vector<uint64_t> bases;
  for (int i = 0; i < 6; i++) {
    bases.push_back(b.base_delay_ms());
    r = (i % 2) ? 0 : 500;  // alternate the two extremes of the jitter range
    uint64_t d = b.next_delay_ms();
    EXPECT_GE(d, bases.back() * 3 / 4);
    EXPECT_LE(d, bases.back() * 5 / 4);
    EXPECT_EQ(d, r == 0 ? bases.back() * 750 / 1000 : bases.back() * 1250 / 1000);
  }
  EXPECT_EQ(bases, (std::vector<uint64_t>{100, 200, 400, 800, 1000, 1000}));
  b.reset();
  EXPECT_EQ(b.base_delay_ms(), 100u);
}

TEST(sdk_core, reconnect_delays_grow_after_failures) {
  CoreConfig cfg;
  cfg.reconnect_min_ms = 100;
  cfg.reconnect_max_ms = 400;
  Harness h(cfg, {250});  // jitter factor exactly 1.0
  h.core.start(h.now);
  std::vector<uint64_t> delays;
  for (int i = 0; i < 4; i++) {
    ASSERT_TRUE(h.core.poll_connect());
    h.core.on_connect_failed(FERRY_ECONNREFUSED, "refused", h.now);
    uint64_t at = *h.core.poll_timeout();
    delays.push_back(at - h.now);
    h.now = at - 1;
    h.core.handle_timeout(h.now);
    EXPECT_FALSE(h.core.poll_connect());
    h.now = at;
    h.core.handle_timeout(h.now);
  }
  EXPECT_EQ(delays, (std::vector<uint64_t>{100, 200, 400, 400}));
  // A successful HELLO resets the backoff.
  h.connect();
  h.core.on_disconnected(FERRY_ENOTCONN, "eof", h.now);
  EXPECT_EQ(*h.core.poll_timeout() - h.now, 100u);
}

TEST(sdk_core, heartbeat_ping_and_dead_peer) {
  auto h = with_session();
  h->go_online();
  h->events();
  uint64_t start = h->now;
  EXPECT_EQ(*h->core.poll_timeout(), start + 10000);
  h->now = start + 10000;
  h->core.handle_timeout(h->now);
  std::vector<Sent> s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].type, FrameType::Ping);
  // A PONG counts as life and pushes the death deadline out.
  h->now = start + 15000;
  h->feed(FrameType::Pong, "");
  h->now = start + 30000;
  h->core.handle_timeout(h->now);
  EXPECT_FALSE(h->core.poll_close());
  // Nothing more for 3 heartbeats: the peer is dead.
  h->now = start + 45000;
  h->core.handle_timeout(h->now);
  EXPECT_TRUE(h->core.poll_close());
  std::vector<Event> ev = h->events();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().conn_state, FERRY_CONN_OFFLINE);
  EXPECT_EQ(ev.back().status, FERRY_EIDLE);
}

TEST(sdk_core, server_ping_gets_pong_with_same_body) {
  auto h = with_session();
  h->go_online();
  h->feed(FrameType::Ping, "abc");
  std::vector<Sent> s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].type, FrameType::Pong);
  EXPECT_EQ(s[0].body, "abc");
}

struct ErrorCase {
  const char* code;
  int err;
};

TEST(sdk_core, fatal_error_frames_map_to_offline_reasons) {
  for (ErrorCase c : {ErrorCase{"slow_consumer", FERRY_ESLOW},
                      {"idle_timeout", FERRY_EIDLE},
                      {"version_mismatch", FERRY_EVERSION},
                      {"too_many_errors", FERRY_EPROTO},
                      {"shutting_down", FERRY_ESERVER}}) {
    auto h = with_session();
    h->go_online();
    h->events();
    h->feed(FrameType::Error,
            std::string(R"({"code":")") + c.code + R"(","message":"m","fatal":true})");
    EXPECT_TRUE(h->core.poll_close()) << c.code;
    std::vector<Event> ev = h->events();
    ASSERT_EQ(ev.size(), 1u) << c.code;
    EXPECT_EQ(ev[0].conn_state, FERRY_CONN_OFFLINE);
    EXPECT_EQ(ev[0].status, c.err) << c.code;
  }
}

TEST(sdk_core, every_protocol_code_has_a_mapping) {
  const ErrorCase table[] = {
      {"frame_too_large", FERRY_EPROTO},
      {"bad_frame_type", FERRY_EPROTO},
      {"hello_required", FERRY_EPROTO},
      {"version_mismatch", FERRY_EVERSION},
      {"bad_hello", FERRY_EPROTO},
      {"unexpected_frame", FERRY_EPROTO},
      {"idle_timeout", FERRY_EIDLE},
      {"slow_consumer", FERRY_ESLOW},
      {"shutting_down", FERRY_ESERVER},
      {"bad_json", FERRY_EPROTO},
      {"bad_request", FERRY_EPROTO},
      {"unknown_field", FERRY_EPROTO},
      {"unknown_op", FERRY_EPROTO},
      {"not_authenticated", FERRY_ENOTAUTH},
      {"already_authenticated", FERRY_EPROTO},
      {"bad_username", FERRY_EBADUSER},
      {"bad_password", FERRY_EBADPASSWORD},
      {"user_exists", FERRY_EUSEREXISTS},
      {"auth_failed", FERRY_EAUTH},
      {"unknown_user", FERRY_EUNKNOWNUSER},
      {"bad_text", FERRY_EBADTEXT},
      {"cid_conflict", FERRY_EPROTO},
      {"too_many_errors", FERRY_EPROTO},
      {"internal", FERRY_ESERVER},
  };
  for (const ErrorCase& c : table) {
    EXPECT_EQ(error_from_protocol_code(c.code, true), c.err) << c.code;
  }
  EXPECT_EQ(error_from_protocol_code("from_the_future", true), FERRY_ESERVER);
  EXPECT_EQ(error_from_protocol_code("from_the_future", false), FERRY_EPROTO);
}

TEST(sdk_core, version_mismatch_in_hello) {
  Harness h;
  h.core.start(h.now);
  ASSERT_TRUE(h.core.poll_connect());
  h.core.on_connected(h.now);
  h.sent();
  h.feed(FrameType::Hello, R"({"proto":2})");
  EXPECT_TRUE(h.core.poll_close());
  EXPECT_EQ(h.events().back().status, FERRY_EVERSION);
}

TEST(sdk_core, garbage_from_server_disconnects_with_eproto) {
  const std::vector<std::string> garbage = {
      std::string("\xff\xff\xff\xff\x01", 5),   // announces 4 GiB
      std::string("\x00\x00\x00\x01\x7f!", 6),  // unknown frame type
  };
  for (const std::string& g : garbage) {
    auto h = with_session();
    h->go_online();
    h->events();
    h->core.on_bytes(g.data(), g.size(), h->now);
    EXPECT_TRUE(h->core.poll_close());
    std::vector<Event> ev = h->events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].status, FERRY_EPROTO);
  }
  const std::vector<std::pair<FrameType, std::string>> bad_bodies = {
      {FrameType::Response, "not json"},
      {FrameType::Response, R"({"rid":999,"ok":true})"},
      {FrameType::Push, R"({"event":"message","message":{"id":"x"}})"},
      {FrameType::Request, R"({"op":"send","rid":1})"},
      {FrameType::Hello, R"({"proto":1})"},
  };
  for (const auto& [type, body] : bad_bodies) {
    auto h = with_session();
    h->go_online();
    h->events();
    h->feed(type, body);
    EXPECT_TRUE(h->core.poll_close()) << body;
    EXPECT_EQ(h->events().back().status, FERRY_EPROTO) << body;
  }
}

TEST(sdk_core, stored_session_rejected) {
  auto h = with_session();
  std::vector<Sent> s = h->connect();
  h->events();
  h->respond_error(s[0].num("rid"), "auth_failed");
  std::vector<Event> ev = h->events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, FERRY_EVENT_AUTH);
  EXPECT_EQ(ev[0].status, FERRY_EAUTH);
  EXPECT_EQ(ev[1].conn_state, FERRY_CONN_CONNECTED);
  EXPECT_FALSE(h->store.session().held());
  EXPECT_EQ(h->store.session().user, "alice");
}

TEST(sdk_core, history_request_and_page) {
  auto h = with_session();
  h->go_online();
  h->events();
  h->core.submit_history(77, "bob", 100, 2, h->now);
  std::vector<Sent> s = h->sent();
  ASSERT_EQ(s[0].op(), "history");
  EXPECT_EQ(s[0].str("peer"), "bob");
  EXPECT_EQ(s[0].num("before"), 100u);
  EXPECT_EQ(s[0].num("limit"), 2u);
  h->respond(s[0].num("rid"), R"("messages":[)" + msg_json(50, "bob", "alice", "x") + "," +
                                  msg_json(60, "alice", "bob", "y") + R"(],"more":true)");
  std::vector<Event> ev = h->events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, FERRY_EVENT_HISTORY);
  EXPECT_EQ(ev[0].request_id, 77u);
  ASSERT_EQ(ev[0].messages.size(), 2u);
  EXPECT_EQ(ev[0].messages[1].text, "y");
  EXPECT_TRUE(ev[0].more);
  EXPECT_EQ(h->core.last_seen(), 0u);  // history does not move the sync position
}

TEST(sdk_core, send_only_client_neither_syncs_nor_delivers) {
  CoreConfig cfg;
  cfg.receive = false;
  auto h = with_session(cfg);
  std::vector<Sent> s = h->connect();
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  EXPECT_TRUE(h->sent().empty());
  EXPECT_EQ(types(h->events()).back(), FERRY_EVENT_SYNCED);
  h->push(msg_json(5, "bob", "alice", "unseen"));
  EXPECT_TRUE(h->events().empty());
  EXPECT_EQ(h->store.last_seen(), 0u);
  h->core.submit_send(OutboxEntry{"cid-solo-12345", "bob", "hi", 0, 0}, h->now);
  s = h->sent();
  h->respond(s[0].num("rid"), R"("duplicate":false,"message":)" +
                                  msg_json(9, "alice", "bob", "hi", "cid-solo-12345"));
  EXPECT_EQ(h->events()[0].message.status, FERRY_MSG_SENT);
  EXPECT_EQ(h->core.outbox_size(), 0u);
}

TEST(sdk_core, logout_revokes_and_cancels_outbox) {
  auto h = with_session();
  h->go_online();
  h->core.on_disconnected(FERRY_ENOTCONN, "x", h->now);  // keep the send pending
  h->core.submit_send(OutboxEntry{"cid-cancel-123", "bob", "hi", 0, 0}, h->now);
  h->now += 1000;
  std::vector<Sent> s = h->connect();
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  h->sent();
  h->events();
  h->core.logout(h->now);
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "logout");
  std::vector<Event> ev = h->events();
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0].message.status, FERRY_MSG_FAILED);
  EXPECT_EQ(ev[0].status, FERRY_ECANCELED);
  EXPECT_EQ(ev.back().conn_state, FERRY_CONN_CONNECTED);
  EXPECT_FALSE(h->store.session().held());
  EXPECT_TRUE(h->store.outbox().empty());
}

TEST(sdk_core, login_while_online_redials_and_failure_keeps_session) {
  auto h = with_session();
  h->go_online();
  h->events();
  h->core.submit_login(8, "alice", "wrong-password", h->now);
  // No logout (that would revoke the stored token): a fresh connection instead.
  EXPECT_TRUE(h->core.poll_close());
  EXPECT_TRUE(h->sent().empty());
  std::vector<Sent> s = h->connect();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "login");  // the app's login goes before the stored session
  h->respond_error(s[0].num("rid"), "auth_failed");
  s = h->sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].op(), "auth");  // falls back to the stored, still valid token
  EXPECT_EQ(s[0].str("token"), "tok");
  std::vector<Event> ev = h->events();
  bool failed = false;
  for (const Event& e : ev) failed |= e.type == FERRY_EVENT_AUTH && e.status == FERRY_EAUTH;
  EXPECT_TRUE(failed);
  h->respond(s[0].num("rid"), R"("user_id":1,"user":"alice")");
  EXPECT_EQ(h->core.public_state(), FERRY_CONN_ONLINE);
  EXPECT_TRUE(h->store.session().held());
}

TEST(sdk_core, history_without_session_fails_at_once) {
  Harness h;
  h.core.start(h.now);
  h.core.submit_history(3, "bob", 0, 10, h.now);
  std::vector<Event> ev = h.events();
  ASSERT_EQ(ev.back().type, FERRY_EVENT_HISTORY);
  EXPECT_EQ(ev.back().status, FERRY_ENOTAUTH);
  EXPECT_EQ(ev.back().request_id, 3u);
}

// The text send request is printed by hand (it is built once per message); it must be byte for
// byte what cJSON prints for the same object, whatever the strings hold: escapes, control
// bytes, UTF-8 and invalid UTF-8, an embedded NUL (cJSON's strings end there).
TEST(sdk_core, hand_printed_send_body_matches_cjson) {
  auto expected = [](uint64_t rid, const OutboxEntry& e) {
    proto::Json j(cJSON_CreateObject());
    cJSON_AddStringToObject(j.get(), "op", "send");
    cJSON_AddNumberToObject(j.get(), "rid", static_cast<double>(rid));
    cJSON_AddStringToObject(j.get(), "to", e.to.c_str());
    cJSON_AddStringToObject(j.get(), "cid", e.cid.c_str());
    cJSON_AddStringToObject(j.get(), "text", e.text.c_str());
    return proto::json_print(j.get());
  };
  std::vector<std::string> texts = {"", "plain text", "quote \" here", "back\\slash",
                                    "\b\f\n\r\t", std::string("\x01\x1f\x7f", 3),
                                    "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80", "\xff\xfe bad utf-8",
                                    std::string("before\0after", 12), "</script>\u2028"};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; i++) {
    std::string t(rng() % 40, '\0');
    for (char& c : t) c = static_cast<char>(rng() % 4 == 0 ? rng() % 0x20 : rng() % 256);
    texts.push_back(t);
  }
  uint64_t rid = 1;
  for (const std::string& t : texts) {
    OutboxEntry e;
    e.to = texts[rid % texts.size()].substr(0, 12);
    e.cid = "cid-" + std::to_string(rid);
    e.text = t;
    ASSERT_EQ(wire::send_body(rid, e), expected(rid, e)) << "text #" << rid;
    rid = rid * 31 + 7;  // grows through 1- to 15-digit request ids
    if (rid > 999'999'999'999'999ull) rid %= 1000;
  }
}

}  // namespace
}  // namespace ferry::sdk
