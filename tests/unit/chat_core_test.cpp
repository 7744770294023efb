// What: ChatCore's behaviour as docs/protocol.md specifies it: HELLO, accounts, send with
// group commit and idempotent retries, pushes, sync and history paging, every bad-input case
// of section 5, idle timeout, slow consumer, shutdown, and a restart that reopens the store.
// How: the real core over a real SqliteStore in a temp file, driven synchronously through the
// shared fixture in chat_harness.h (fake clock, fake hasher, frame-decoder clients).
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "servers/chat/core/password.h"
#include "servers/chat/core/validate.h"
#include "servers/chat/store/sqlite_store.h"
#include "tests/unit/chat_harness.h"

namespace ferry::chat {
namespace {

using harness::Received;
using proto::FrameType;

class ChatCoreTest : public harness::ChatHarness {
 protected:
  ChatCoreTest() : ChatHarness({"chat-core", 1u << 24, /*run_timeouts=*/true}) {}

  static std::string send_req(uint64_t rid, const std::string& to, const std::string& cid,
                              const std::string& text) {
    return R"({"op":"send","rid":)" + std::to_string(rid) + R"(,"to":")" + to + R"(","cid":")" +
           cid + R"(","text":")" + text + R"("})";
  }
};

// ---- HELLO and frames ------------------------------------------------------------------

TEST_F(ChatCoreTest, hello_answered_with_limits) {
  ConnId c = open();
  frame(c, FrameType::Hello, R"({"proto":1})");
  Received h = take(c);
  ASSERT_EQ(h.type, FrameType::Hello);
  EXPECT_EQ(num(h.body.get(), "proto"), 1u);
  EXPECT_EQ(num(h.body.get(), "max_frame"), 1u << 20);
  EXPECT_EQ(num(h.body.get(), "idle_timeout_ms"), 30000u);
  EXPECT_EQ(num(h.body.get(), "heartbeat_ms"), 10000u);
  EXPECT_EQ(str(h.body.get(), "server"), "ferry-chatd/0.1.0");
}

TEST_F(ChatCoreTest, hello_version_mismatch_is_fatal) {
  ConnId c = open();
  frame(c, FrameType::Hello, R"({"proto":2})");
  Received e = take(c);
  EXPECT_EQ(e.type, FrameType::Error);
  EXPECT_EQ(code_of(e), "version_mismatch");
  EXPECT_EQ(str(e.body.get(), "message"), "server speaks protocol 1, client asked for 2");
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(e.body.get(), "fatal")));
  EXPECT_TRUE(closed(c));
}

TEST_F(ChatCoreTest, hello_required_first) {
  ConnId c = open();
  frame(c, FrameType::Request, R"({"op":"sync","rid":1})");
  EXPECT_EQ(code_of(take(c)), "hello_required");
  EXPECT_TRUE(closed(c));
  ConnId p = open();
  frame(p, FrameType::Ping, "x");
  EXPECT_EQ(code_of(take(p)), "hello_required");
}

TEST_F(ChatCoreTest, hello_bad_body_is_fatal) {
  for (const char* body : {"not json", R"({"proto":"1"})", R"({"proto":1,"x":2})", "[1]", "{}"}) {
    ConnId c = open();
    frame(c, FrameType::Hello, body);
    EXPECT_EQ(code_of(take(c)), "bad_hello") << body;
    EXPECT_TRUE(closed(c)) << body;
  }
}

TEST_F(ChatCoreTest, frame_server_only_types_are_unexpected) {
  for (FrameType t : {FrameType::Hello, FrameType::Response, FrameType::Push, FrameType::Chunk}) {
    ConnId c = greeted();
    frame(c, t, "{}");
    EXPECT_EQ(code_of(take(c)), "unexpected_frame");
    EXPECT_TRUE(closed(c));
  }
}

TEST_F(ChatCoreTest, frame_truncated_waits_for_the_rest) {
  ConnId c = greeted();
  std::string f = encoded(FrameType::Ping, "abc");
  raw(c, f.substr(0, 2));
  raw(c, f.substr(2, 4));
  EXPECT_EQ(pending(c), 0u);
  EXPECT_FALSE(closed(c));
  raw(c, f.substr(6));
  Received r = take(c);
  EXPECT_EQ(r.type, FrameType::Pong);
  EXPECT_EQ(r.raw, "abc");
}

TEST_F(ChatCoreTest, frame_oversized_is_fatal_before_the_body) {
  ConnId c = greeted();
  uint8_t header[5];
  proto::encode_frame_header(header, FrameType::Request, (1u << 20) + 1);
  raw(c, std::string_view(reinterpret_cast<char*>(header), 5));
  EXPECT_EQ(code_of(take(c)), "frame_too_large");
  EXPECT_TRUE(closed(c));
}

TEST_F(ChatCoreTest, frame_unknown_type_is_fatal) {
  ConnId c = greeted();
  raw(c, std::string("\0\0\0\0\x09", 5));
  EXPECT_EQ(code_of(take(c)), "bad_frame_type");
  EXPECT_TRUE(closed(c));
  ConnId g = open();  // garbage before HELLO: also refused, not parsed as a length
  raw(g, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(take(g).type, FrameType::Error);
  EXPECT_TRUE(closed(g));
}

TEST_F(ChatCoreTest, frame_input_after_fatal_is_ignored) {
  ConnId c = greeted();
  raw(c, std::string("\0\0\0\0\x09", 5) + encoded(FrameType::Ping, "x"));
  EXPECT_EQ(code_of(take(c)), "bad_frame_type");
  EXPECT_EQ(pending(c), 0u);
}

// ---- Requests: bad input ----------------------------------------------------------------

TEST_F(ChatCoreTest, request_bad_json_is_not_fatal) {
  ConnId c = greeted();
  frame(c, FrameType::Request, "{nope");
  Received e = take(c);
  EXPECT_EQ(e.type, FrameType::Error);
  EXPECT_EQ(code_of(e), "bad_json");
  EXPECT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(e.body.get(), "fatal")));
  frame(c, FrameType::Request, R"({"op":"sync"})");  // no rid to answer with
  EXPECT_EQ(code_of(take(c)), "bad_json");
  EXPECT_FALSE(closed(c));
  EXPECT_EQ(code_of(rpc(c, R"({"op":"sync","rid":5})")), "not_authenticated");
}

TEST_F(ChatCoreTest, request_unknown_op_and_missing_op) {
  ConnId c = user("alice");
  Received r = rpc(c, R"({"op":"delete_everything","rid":9})");
  EXPECT_EQ(num(r.body.get(), "rid"), 9u);
  EXPECT_FALSE(ok(r));
  EXPECT_EQ(code_of(r), "unknown_op");
  EXPECT_EQ(code_of(rpc(c, R"({"rid":10})")), "bad_request");
  EXPECT_EQ(code_of(rpc(c, R"({"op":7,"rid":10})")), "bad_request");
}

TEST_F(ChatCoreTest, request_wrong_field_types) {
  ConnId a = user("alice");
  user("bob");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"send","rid":1,"to":5,"cid":"abcdefgh","text":"x"})")),
            "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"send","rid":1,"to":"bob","cid":"abcdefgh"})")), "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"sync","rid":1,"since":-1})")), "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"sync","rid":1,"since":1.5})")), "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"sync","rid":1,"limit":1001})")), "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"sync","rid":1,"limit":0})")), "bad_request");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"history","rid":1,"peer":"bob","before":"x"})")),
            "bad_request");
  ConnId anon = greeted();
  EXPECT_EQ(code_of(rpc(anon, R"({"op":"auth","rid":1,"token":null})")), "bad_request");
}

TEST_F(ChatCoreTest, request_unknown_field_refused) {
  ConnId a = user("alice");
  user("bob");
  Received r = rpc(a, R"({"op":"sync","rid":1,"since":0,"colour":"red"})");
  EXPECT_EQ(code_of(r), "unknown_field");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"logout","rid":2,"all":true})")), "unknown_field");
}

TEST_F(ChatCoreTest, request_ops_before_login_refused) {
  ConnId c = greeted();
  user("bob");
  EXPECT_EQ(code_of(rpc(c, send_req(1, "bob", "abcdefgh", "hi"))), "not_authenticated");
  EXPECT_EQ(code_of(rpc(c, R"({"op":"sync","rid":2})")), "not_authenticated");
  EXPECT_EQ(code_of(rpc(c, R"({"op":"history","rid":3,"peer":"bob"})")), "not_authenticated");
  EXPECT_EQ(code_of(rpc(c, R"({"op":"logout","rid":4})")), "not_authenticated");
  EXPECT_FALSE(closed(c));
}

TEST_F(ChatCoreTest, request_claiming_another_user_cannot_act_as_them) {
  ConnId mallory = user("mallory");
  ConnId bob = user("bob");
  user("alice");
  Received r = rpc(mallory, R"({"op":"send","rid":1,"from":"alice","to":"bob",)"
                            R"("cid":"abcdefgh","text":"from alice, honest"})");
  EXPECT_EQ(code_of(r), "unknown_field");
  EXPECT_EQ(pending(bob), 0u);  // nothing was pushed
  // Unauthenticated, the same claim gets nowhere either.
  ConnId anon = greeted();
  EXPECT_EQ(code_of(rpc(anon, R"({"op":"sync","rid":1,"user_id":3})")), "unknown_field");
  EXPECT_EQ(code_of(rpc(anon, R"({"op":"sync","rid":2})")), "not_authenticated");
  // Alice's view holds nothing sent in her name.
  ConnId alice = login("alice");
  Received s = rpc(alice, R"({"op":"sync","rid":3})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s.body.get(), "messages")), 0);
}

TEST_F(ChatCoreTest, request_errors_in_a_row_cut_the_connection) {
  ConnId c = greeted();
  for (int i = 0; i < 31; i++) EXPECT_EQ(code_of(rpc(c, R"({"op":"x","rid":1})")), "unknown_op");
  EXPECT_FALSE(closed(c));
  frame(c, FrameType::Request, R"({"op":"x","rid":1})");
  EXPECT_EQ(code_of(take(c)), "unknown_op");
  Received e = take(c);
  EXPECT_EQ(e.type, FrameType::Error);
  EXPECT_EQ(code_of(e), "too_many_errors");
  EXPECT_TRUE(closed(c));
}

TEST_F(ChatCoreTest, request_success_resets_the_error_streak) {
  ConnId c = user("alice");
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 31; i++) rpc(c, R"({"op":"x","rid":1})");
    EXPECT_TRUE(ok(rpc(c, R"({"op":"sync","rid":2})")));
  }
  EXPECT_FALSE(closed(c));
}

// ---- Accounts ---------------------------------------------------------------------------

TEST_F(ChatCoreTest, account_register_login_auth_logout) {
  ConnId a = greeted();
  Received r = rpc(a, R"({"op":"register","rid":1,"user":"alice","password":"correct horse"})");
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_EQ(num(r.body.get(), "user_id"), 1u);
  EXPECT_EQ(str(r.body.get(), "user"), "alice");
  std::string token = str(r.body.get(), "token");
  EXPECT_TRUE(valid_token(token));
  EXPECT_EQ(r.raw.find("correct horse"), std::string::npos);

  ConnId b = greeted();
  Received l = rpc(b, R"({"op":"login","rid":2,"user":"alice","password":"correct horse"})");
  ASSERT_TRUE(ok(l));
  EXPECT_NE(str(l.body.get(), "token"), token);  // every login is a new session

  ConnId c = greeted();
  Received au = rpc(c, R"({"op":"auth","rid":3,"token":")" + token + R"("})");
  ASSERT_TRUE(ok(au)) << au.raw;
  EXPECT_EQ(str(au.body.get(), "user"), "alice");
  EXPECT_EQ(cJSON_GetObjectItem(au.body.get(), "token"), nullptr);

  EXPECT_TRUE(ok(rpc(c, R"({"op":"logout","rid":4})")));
  EXPECT_EQ(code_of(rpc(c, R"({"op":"sync","rid":5})")), "not_authenticated");
  ConnId d = greeted();  // the token is revoked
  EXPECT_EQ(code_of(rpc(d, R"({"op":"auth","rid":6,"token":")" + token + R"("})")), "auth_failed");
  // After logout the connection may log in again.
  EXPECT_TRUE(ok(rpc(c, R"({"op":"login","rid":7,"user":"alice","password":"correct horse"})")));
}

TEST_F(ChatCoreTest, account_password_stored_as_pbkdf2_only) {
  user("alice");
  UserRecord u;
  ASSERT_EQ(store_->find_user_by_name("alice", u), StoreStatus::Ok);
  EXPECT_EQ(u.salt.size(), kSaltBytes);
  EXPECT_EQ(u.iterations, 1000u);
  EXPECT_EQ(u.hash, fake_hash(HashJob{0, "correct horse", u.salt, 1000}));
  // RFC 7914 section 11 vector for PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1).
  EXPECT_EQ(proto::hex_encode(pbkdf2_sha256("passwd", "salt", 1)).substr(0, 32),
            "55ac046e56e3089fec1691c22544b605");
}

TEST_F(ChatCoreTest, account_username_rules) {
  ConnId c = greeted();
  for (const char* bad : {"al", "Alice", "1alice", "_alice", "al ice", "alice!",
                          "abcdefghijabcdefghijabcdefghijabc", "", "ali\xc3\xa9"}) {
    std::string body = std::string(R"({"op":"register","rid":1,"user":")") + bad +
                       R"(","password":"correct horse"})";
    EXPECT_EQ(code_of(rpc(c, body)), "bad_username") << bad;
  }
  for (const char* good : {"abc", "a.b-c_9", "abcdefghijabcdefghijabcdefghijab"}) {
    ConnId g = greeted();
    std::string body = std::string(R"({"op":"register","rid":1,"user":")") + good +
                       R"(","password":"correct horse"})";
    EXPECT_TRUE(ok(rpc(g, body))) << good;
  }
}

TEST_F(ChatCoreTest, account_password_rules) {
  ConnId c = greeted();
  EXPECT_EQ(code_of(rpc(c, R"({"op":"register","rid":1,"user":"alice","password":"1234567"})")),
            "bad_password");
  std::string huge(1025, 'p');
  EXPECT_EQ(
      code_of(rpc(c, R"({"op":"register","rid":1,"user":"alice","password":")" + huge + R"("})")),
      "bad_password");
  EXPECT_TRUE(ok(rpc(c, R"({"op":"register","rid":1,"user":"alice","password":"12345678"})")));
}

TEST_F(ChatCoreTest, account_name_taken) {
  user("alice");
  ConnId c = greeted();
  EXPECT_EQ(code_of(rpc(c, R"({"op":"register","rid":1,"user":"alice","password":"other pass"})")),
            "user_exists");
}

TEST_F(ChatCoreTest, account_concurrent_register_of_one_name) {
  hold_hashes_ = true;
  ConnId a = greeted(), b = greeted();
  frame(a, FrameType::Request,
        R"({"op":"register","rid":1,"user":"alice","password":"pass word"})");
  frame(b, FrameType::Request,
        R"({"op":"register","rid":1,"user":"alice","password":"word pass"})");
  hold_hashes_ = false;
  pump();
  EXPECT_TRUE(ok(take(a)));
  EXPECT_EQ(code_of(take(b)), "user_exists");
}

TEST_F(ChatCoreTest, account_wrong_password_and_unknown_user_look_alike) {
  user("alice");
  ConnId c = greeted();
  Received wrong = rpc(c, R"({"op":"login","rid":1,"user":"alice","password":"wrong horse"})");
  Received nobody = rpc(c, R"({"op":"login","rid":2,"user":"zed","password":"wrong horse"})");
  EXPECT_EQ(code_of(wrong), "auth_failed");
  EXPECT_EQ(code_of(nobody), "auth_failed");
  EXPECT_EQ(str(cJSON_GetObjectItem(wrong.body.get(), "error"), "message"),
            str(cJSON_GetObjectItem(nobody.body.get(), "error"), "message"));
  EXPECT_EQ(code_of(rpc(c, R"({"op":"auth","rid":3,"token":"00ff"})")), "auth_failed");
  EXPECT_EQ(code_of(rpc(c, R"({"op":"auth","rid":4,"token":")" + std::string(64, 'a') + R"("})")),
            "auth_failed");
}

TEST_F(ChatCoreTest, account_already_authenticated) {
  std::string token;
  ConnId a = user("alice", &token);
  EXPECT_EQ(code_of(rpc(a, R"({"op":"login","rid":1,"user":"alice","password":"correct horse"})")),
            "already_authenticated");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"auth","rid":2,"token":")" + token + R"("})")),
            "already_authenticated");
  EXPECT_EQ(code_of(rpc(a, R"({"op":"register","rid":3,"user":"alicia","password":"12345678"})")),
            "already_authenticated");
}

TEST_F(ChatCoreTest, account_requests_behind_a_hash_wait_their_turn) {
  user("alice");
  hold_hashes_ = true;
  ConnId c = greeted();
  raw(c, encoded(FrameType::Request,
                 R"({"op":"login","rid":1,"user":"alice","password":"correct horse"})") +
             encoded(FrameType::Request, R"({"op":"sync","rid":2})"));
  EXPECT_EQ(pending(c), 0u);  // the sync is not answered "not_authenticated" meanwhile
  hold_hashes_ = false;
  pump();
  Received login = take(c), sync = take(c);
  EXPECT_EQ(num(login.body.get(), "rid"), 1u);
  EXPECT_TRUE(ok(login));
  EXPECT_EQ(num(sync.body.get(), "rid"), 2u);
  EXPECT_TRUE(ok(sync)) << sync.raw;
}

// The SDK sends requests right behind a stored session's auth (docs/protocol.md section 2):
// a good token authenticates before the next request is read; after a refused one the
// request is answered not_authenticated and the connection stays usable.
TEST_F(ChatCoreTest, account_requests_behind_an_auth_follow_its_verdict) {
  std::string token;
  user("alice", &token);
  ConnId good = greeted(), bad = greeted();
  raw(good, encoded(FrameType::Request, R"({"op":"auth","rid":1,"token":")" + token + R"("})") +
                encoded(FrameType::Request, R"({"op":"sync","rid":2})"));
  raw(bad, encoded(FrameType::Request,
                   R"({"op":"auth","rid":1,"token":")" + std::string(64, 'a') + R"("})") +
               encoded(FrameType::Request, R"({"op":"sync","rid":2})"));
  EXPECT_TRUE(ok(take(good)));
  Received synced = take(good);
  EXPECT_TRUE(ok(synced)) << synced.raw;
  EXPECT_EQ(code_of(take(bad)), "auth_failed");
  EXPECT_EQ(code_of(take(bad)), "not_authenticated");
  EXPECT_TRUE(ok(rpc(bad, R"({"op":"auth","rid":3,"token":")" + token + R"("})")));
}

TEST_F(ChatCoreTest, account_client_gone_before_hash_finishes) {
  hold_hashes_ = true;
  ConnId c = greeted();
  frame(c, FrameType::Request, R"({"op":"register","rid":1,"user":"alice","password":"12345678"})");
  core_->on_close(c);
  peers_[c].closed = true;
  hold_hashes_ = false;
  pump();  // the result finds no connection: dropped, no crash, no output
  EXPECT_EQ(core_->connection_count(), 0u);
}

// ---- Messaging --------------------------------------------------------------------------

TEST_F(ChatCoreTest, send_pushes_to_receiver_and_senders_other_sessions) {
  ConnId a1 = user("alice");
  ConnId b1 = user("bob");
  ConnId a2 = login("alice");
  ConnId b2 = login("bob");
  ConnId carol = user("carol");
  Received r = rpc(a1, send_req(7, "bob", "cid-0001", "hi bob"));
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(r.body.get(), "duplicate")));
  const cJSON* m = msg(r);
  EXPECT_EQ(num(m, "id"), 1u);
  EXPECT_EQ(str(m, "from"), "alice");
  EXPECT_EQ(str(m, "to"), "bob");
  EXPECT_EQ(str(m, "kind"), "text");
  EXPECT_EQ(str(m, "text"), "hi bob");
  EXPECT_EQ(str(m, "cid"), "cid-0001");
  EXPECT_EQ(num(m, "ts"), static_cast<uint64_t>(now_));
  for (ConnId id : {b1, b2, a2}) {
    Received p = take(id);
    ASSERT_EQ(p.type, FrameType::Push) << id;
    EXPECT_EQ(str(p.body.get(), "event"), "message");
    EXPECT_EQ(num(msg(p), "id"), 1u);
    EXPECT_EQ(pending(id), 0u);
  }
  EXPECT_EQ(pending(a1), 0u);  // the sending connection got the response only
  EXPECT_EQ(pending(carol), 0u);
}

// The MESSAGE object of a text send is printed by hand (proto/json_text.h): every byte that needs
// escaping survives the round trip, and the bytes are exactly what cJSON prints for the same
// object, in the response and in the push alike.
TEST_F(ChatCoreTest, send_message_json_escapes_like_cjson) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  std::string text = "q\" b\\ /\b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80 <&>";
  proto::Json req = proto::json_object();
  cJSON_AddStringToObject(req.get(), "op", "send");
  cJSON_AddNumberToObject(req.get(), "rid", 9);
  cJSON_AddStringToObject(req.get(), "to", "bob");
  cJSON_AddStringToObject(req.get(), "cid", "cid-esc-01");
  cJSON_AddStringToObject(req.get(), "text", text.c_str());
  Received r = rpc(a, proto::json_print(req.get()));
  ASSERT_TRUE(ok(r)) << r.raw;
  Received p = take(b);
  ASSERT_EQ(p.type, FrameType::Push);
  for (const Received* got : {&r, &p}) {
    const cJSON* m = msg(*got);
    ASSERT_NE(m, nullptr) << got->raw;
    EXPECT_EQ(str(m, "text"), text);
    EXPECT_EQ(str(m, "from"), "alice");
    EXPECT_EQ(num(m, "ts"), static_cast<uint64_t>(now_));
    std::string canonical = proto::json_print(m);
    EXPECT_NE(got->raw.find(canonical), std::string::npos)
        << "printed: " << got->raw << "\ncJSON:   " << canonical;
  }
}

TEST_F(ChatCoreTest, send_to_self_is_a_note) {
  ConnId a1 = user("alice");
  ConnId a2 = login("alice");
  Received r = rpc(a1, send_req(1, "alice", "note-0001", "remember milk"));
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(str(msg(r), "to"), "alice");
  EXPECT_EQ(take(a2).type, FrameType::Push);
  EXPECT_EQ(pending(a2), 0u);  // once, not twice
  EXPECT_EQ(pending(a1), 0u);
  Received s = rpc(a2, R"({"op":"sync","rid":2})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s.body.get(), "messages")), 1);
  Received h = rpc(a2, R"({"op":"history","rid":3,"peer":"alice"})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(h.body.get(), "messages")), 1);
}

TEST_F(ChatCoreTest, send_to_unknown_user) {
  ConnId a = user("alice");
  Received r = rpc(a, send_req(1, "zed", "cid-0001", "hello?"));
  EXPECT_EQ(code_of(r), "unknown_user");
  EXPECT_EQ(str(cJSON_GetObjectItem(r.body.get(), "error"), "message"), "no user named 'zed'");
}

TEST_F(ChatCoreTest, send_text_and_cid_rules) {
  ConnId a = user("alice");
  user("bob");
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", "cid-0001", ""))), "bad_text");
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", "cid-0001", std::string(65537, 'x')))), "bad_text");
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", "cid-0001", "\xc3\x28"))), "bad_text");
  EXPECT_TRUE(ok(rpc(a, send_req(1, "bob", "cid-0001", std::string(65536, 'x')))));
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", "short", "x"))), "bad_request");
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", "has space 1", "x"))), "bad_request");
  EXPECT_EQ(code_of(rpc(a, send_req(1, "bob", std::string(65, 'c'), "x"))), "bad_request");
  EXPECT_TRUE(ok(rpc(a, send_req(1, "bob", std::string(64, 'c'), "x"))));
}

TEST_F(ChatCoreTest, send_retry_after_commit_is_duplicate) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  Received first = rpc(a, send_req(1, "bob", "cid-0001", "once"));
  take(b);
  now_ += 5000;
  ConnId a2 = login("alice");  // a retry may come on a new connection
  Received again = rpc(a2, send_req(9, "bob", "cid-0001", "once"));
  ASSERT_TRUE(ok(again)) << again.raw;
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(again.body.get(), "duplicate")));
  EXPECT_EQ(num(msg(again), "id"), num(msg(first), "id"));
  EXPECT_EQ(num(msg(again), "ts"), num(msg(first), "ts"));
  EXPECT_EQ(pending(b), 0u);  // no second push
  Received s = rpc(b, R"({"op":"sync","rid":2})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s.body.get(), "messages")), 1);
}

TEST_F(ChatCoreTest, send_retry_in_same_batch_is_duplicate) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  raw(a, "");  // nothing
  std::string two = encoded(FrameType::Request, send_req(1, "bob", "cid-0001", "once")) +
                    encoded(FrameType::Request, send_req(2, "bob", "cid-0001", "once"));
  core_->on_bytes(a, two.data(), two.size(), now_);
  EXPECT_EQ(core_->pending_sends(), 1u);  // one message, two waiters
  pump();
  Received r1 = take(a), r2 = take(a);
  EXPECT_EQ(num(r1.body.get(), "rid"), 1u);
  EXPECT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(r1.body.get(), "duplicate")));
  EXPECT_EQ(num(r2.body.get(), "rid"), 2u);
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(r2.body.get(), "duplicate")));
  EXPECT_EQ(num(msg(r1), "id"), num(msg(r2), "id"));
  EXPECT_EQ(take(b).type, FrameType::Push);
  EXPECT_EQ(pending(b), 0u);
}

TEST_F(ChatCoreTest, send_cid_conflict) {
  ConnId a = user("alice");
  user("bob");
  user("carol");
  ASSERT_TRUE(ok(rpc(a, send_req(1, "bob", "cid-0001", "one"))));
  EXPECT_EQ(code_of(rpc(a, send_req(2, "bob", "cid-0001", "two"))), "cid_conflict");
  EXPECT_EQ(code_of(rpc(a, send_req(3, "carol", "cid-0001", "one"))), "cid_conflict");
  // In the same batch.
  std::string two = encoded(FrameType::Request, send_req(4, "bob", "cid-0002", "one")) +
                    encoded(FrameType::Request, send_req(5, "bob", "cid-0002", "two"));
  core_->on_bytes(a, two.data(), two.size(), now_);
  pump();
  std::vector<std::string> codes;
  while (pending(a)) {
    Received r = take(a);
    codes.push_back(std::to_string(num(r.body.get(), "rid")) + ":" + (ok(r) ? "ok" : code_of(r)));
  }
  // The conflict is refused at once; the original is answered after its commit.
  EXPECT_EQ(codes, (std::vector<std::string>{"5:cid_conflict", "4:ok"}));
  // cids are per sender: bob may use alice's cid.
  ConnId b = login("bob");
  EXPECT_TRUE(ok(rpc(b, send_req(1, "alice", "cid-0001", "mine"))));
}

TEST_F(ChatCoreTest, send_group_commit_answers_after_flush_in_id_order) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  ConnId c = user("carol");
  std::string batch;
  for (int i = 0; i < 5; i++) {
    batch += encoded(
        FrameType::Request,
        send_req(10 + i, "bob", "cid-a-" + std::to_string(i) + "xx", "m" + std::to_string(i)));
  }
  core_->on_bytes(a, batch.data(), batch.size(), now_);
  std::string other = encoded(FrameType::Request, send_req(1, "bob", "cid-c-0001", "from carol"));
  core_->on_bytes(c, other.data(), other.size(), now_);
  EXPECT_EQ(core_->pending_sends(), 6u);
  ConnId id;
  std::string bytes;
  EXPECT_FALSE(core_->poll_send(id, bytes));         // nothing acknowledged before the commit
  Received s0 = rpc(b, R"({"op":"sync","rid":1})");  // bob's own ops do not force the commit
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s0.body.get(), "messages")), 0);
  pump();  // rpc() already flushed; collect in order
  uint64_t last = 0;
  for (int i = 0; i < 5; i++) {
    Received r = take(a);
    EXPECT_EQ(num(r.body.get(), "rid"), 10u + i);
    EXPECT_GT(num(msg(r), "id"), last);
    last = num(msg(r), "id");
  }
  last = 0;
  for (int i = 0; i < 6; i++) {
    Received p = take(b);
    ASSERT_EQ(p.type, FrameType::Push);
    EXPECT_GT(num(msg(p), "id"), last);
    last = num(msg(p), "id");
  }
  EXPECT_EQ(core_->pending_sends(), 0u);
}

TEST_F(ChatCoreTest, send_then_sync_on_one_connection_keeps_request_order) {
  ConnId a = user("alice");
  user("bob");
  std::string two = encoded(FrameType::Request, send_req(1, "bob", "cid-0001", "x")) +
                    encoded(FrameType::Request, R"({"op":"sync","rid":2})");
  raw(a, two);
  Received r1 = take(a), r2 = take(a);
  EXPECT_EQ(num(r1.body.get(), "rid"), 1u);
  EXPECT_EQ(num(r2.body.get(), "rid"), 2u);
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(r2.body.get(), "messages")), 1);
}

TEST_F(ChatCoreTest, sync_pages_everything_sent_and_received) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  ConnId c = user("carol");
  for (int i = 0; i < 3; i++) rpc(a, send_req(i, "bob", "a2b-000" + std::to_string(i), "ab"));
  for (int i = 0; i < 2; i++) rpc(b, send_req(i, "alice", "b2a-000" + std::to_string(i), "ba"));
  rpc(c, send_req(1, "bob", "c2b-0001", "cb"));  // not alice's
  rpc(a, send_req(9, "alice", "self-0001", "note"));
  std::vector<uint64_t> ids;
  uint64_t since = 0;
  for (int page = 0; page < 10; page++) {
    Received r =
        rpc(a, R"({"op":"sync","rid":5,"since":)" + std::to_string(since) + R"(,"limit":2})");
    const cJSON* arr = cJSON_GetObjectItem(r.body.get(), "messages");
    EXPECT_LE(cJSON_GetArraySize(arr), 2);
    for (const cJSON* m = arr->child; m; m = m->next) ids.push_back(num(m, "id"));
    if (!ids.empty()) since = ids.back();
    if (!cJSON_IsTrue(cJSON_GetObjectItem(r.body.get(), "more"))) break;
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4, 5, 7}));
}

TEST_F(ChatCoreTest, history_pages_backwards_returned_ascending) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  user("carol");
  for (int i = 0; i < 4; i++) {
    rpc(a, send_req(i, "bob", "a2b-000" + std::to_string(i), "ab" + std::to_string(i)));
    rpc(a, send_req(i, "carol", "a2c-000" + std::to_string(i), "ac"));
    rpc(b, send_req(i, "alice", "b2a-000" + std::to_string(i), "ba"));
  }
  // Conversation alice-bob holds ids 1,3,4,6,7,9,10,12.
  Received h1 = rpc(b, R"({"op":"history","rid":1,"peer":"alice","limit":3})");
  const cJSON* m1 = cJSON_GetObjectItem(h1.body.get(), "messages");
  ASSERT_EQ(cJSON_GetArraySize(m1), 3);
  EXPECT_EQ(num(cJSON_GetArrayItem(m1, 0), "id"), 9u);
  EXPECT_EQ(num(cJSON_GetArrayItem(m1, 2), "id"), 12u);
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(h1.body.get(), "more")));
  Received h2 = rpc(b, R"({"op":"history","rid":2,"peer":"alice","before":9,"limit":10})");
  const cJSON* m2 = cJSON_GetObjectItem(h2.body.get(), "messages");
  ASSERT_EQ(cJSON_GetArraySize(m2), 5);
  EXPECT_EQ(num(cJSON_GetArrayItem(m2, 0), "id"), 1u);
  EXPECT_EQ(num(cJSON_GetArrayItem(m2, 4), "id"), 7u);
  EXPECT_FALSE(cJSON_IsTrue(cJSON_GetObjectItem(h2.body.get(), "more")));
  Received h3 = rpc(b, R"({"op":"history","rid":3,"peer":"alice"})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(h3.body.get(), "messages")), 8);
  EXPECT_EQ(code_of(rpc(b, R"({"op":"history","rid":4,"peer":"zed"})")), "unknown_user");
}

// ---- Timeouts, slow consumers, shutdown, restart -----------------------------------------

TEST_F(ChatCoreTest, idle_connection_is_closed_after_the_timeout) {
  ConnId quiet = greeted();
  now_ += 20000;
  ConnId chatty = greeted();
  EXPECT_EQ(core_->poll_timeout(), now_ - 20000 + 30000);
  now_ += 9999;
  pump();
  EXPECT_FALSE(closed(quiet));
  now_ += 1;
  pump();
  EXPECT_EQ(code_of(take(quiet)), "idle_timeout");
  EXPECT_TRUE(closed(quiet));
  // Activity pushes the deadline back; a partial frame counts.
  now_ += 15000;
  raw(chatty, std::string("\0\0", 2));
  now_ += 20000;
  pump();
  EXPECT_FALSE(closed(chatty));
  now_ += 10000;
  pump();
  EXPECT_TRUE(closed(chatty));
  EXPECT_EQ(core_->poll_timeout(), kNoTimeout);
}

TEST_F(ChatCoreTest, slow_consumer_is_told_and_dropped_from_pushes) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  core_->on_slow_consumer(b);
  pump();
  EXPECT_EQ(code_of(take(b)), "slow_consumer");
  EXPECT_TRUE(closed(b));
  EXPECT_TRUE(ok(rpc(a, send_req(1, "bob", "cid-0001", "still stored"))));
  ConnId b2 = login("bob");
  Received s = rpc(b2, R"({"op":"sync","rid":1})");
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s.body.get(), "messages")), 1);
}

TEST_F(ChatCoreTest, shutdown_commits_then_tells_everyone) {
  ConnId a = user("alice");
  ConnId b = user("bob");
  std::string req = encoded(FrameType::Request, send_req(1, "bob", "cid-0001", "last words"));
  core_->on_bytes(a, req.data(), req.size(), now_);
  core_->shutdown(now_);
  pump();
  EXPECT_TRUE(ok(take(a)));  // acknowledged before the goodbye
  EXPECT_EQ(code_of(take(a)), "shutting_down");
  EXPECT_EQ(take(b).type, FrameType::Push);
  EXPECT_EQ(code_of(take(b)), "shutting_down");
  EXPECT_TRUE(closed(a) && closed(b));
  ConnId late = open();
  pump();
  EXPECT_EQ(code_of(take(late)), "shutting_down");
}

TEST_F(ChatCoreTest, restart_keeps_messages_sessions_and_id_order) {
  std::string token;
  ConnId a = user("alice", &token);
  user("bob");
  Received first = rpc(a, send_req(1, "bob", "cid-0001", "before restart"));
  uint64_t first_id = num(msg(first), "id");
  peers_.clear();
  open_core();  // a new core and store over the same file
  ConnId a2 = greeted();
  Received au = rpc(a2, R"({"op":"auth","rid":1,"token":")" + token + R"("})");
  ASSERT_TRUE(ok(au)) << au.raw;
  Received s = rpc(a2, R"({"op":"sync","rid":2})");
  const cJSON* arr = cJSON_GetObjectItem(s.body.get(), "messages");
  ASSERT_EQ(cJSON_GetArraySize(arr), 1);
  EXPECT_EQ(str(cJSON_GetArrayItem(arr, 0), "text"), "before restart");
  // The cid is still known, and new ids keep increasing.
  Received dup = rpc(a2, send_req(3, "bob", "cid-0001", "before restart"));
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(dup.body.get(), "duplicate")));
  Received next = rpc(a2, send_req(4, "bob", "cid-0002", "after restart"));
  EXPECT_GT(num(msg(next), "id"), first_id);
  ConnId b = login("bob");
  EXPECT_TRUE(ok(rpc(b, R"({"op":"history","rid":1,"peer":"alice"})")));
}

}  // namespace
}  // namespace ferry::chat
