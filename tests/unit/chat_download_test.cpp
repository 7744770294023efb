// What: ChatCore's side of downloads (docs/protocol-download.md §1-2): peer_auth's optional
// `http` address (validated like `advertise`, latest wins, outlives the link, kept when a later
// peer_auth has none), and download_url: who may ask (sender and receiver, not a third user),
// what is not media or not ready (unknown_message, not_ready with the status and percentage),
// ttl_s bounds, no_resource_server, and a URL whose ticket verifies with kind down and every
// claim (user, message, size, hash, expiry, name, MIME).
// How: the real core over a real SqliteStore through the shared harness (chat_harness.h);
// "resd" is another connection that computes the peer MAC with the test's key. No sockets.
#include <gtest/gtest.h>

#include <string>

#include "proto/json.h"
#include "proto/ticket.h"
#include "servers/chat/core/chat_core.h"
#include "tests/support/raw_client.h"
#include "tests/unit/chat_harness.h"

namespace ferry::chat {
namespace {

using harness::Received;
using test::peer_mac;

const std::string kKey(32, 'k');
const std::string kSha(64, 'c');

class ChatDownloadTest : public harness::ChatHarness {
 protected:
  ChatDownloadTest() : ChatHarness({"chat-download", 1u << 26, /*run_timeouts=*/false, kKey}) {}

  // peer_auth with `fields` spliced in after advertise; returns the connection and answer.
  ConnId resd(const std::string& fields, Received* answer = nullptr) {
    std::string challenge;
    ConnId id = greeted(&challenge);
    Received r = rpc(id, R"({"op":"peer_auth","rid":1,"mac":")" + peer_mac(kKey, challenge) +
                             R"(","advertise":"127.0.0.1:7421")" + fields + "}");
    if (answer) *answer = std::move(r);
    return id;
  }
  ConnId linked(const std::string& http = "127.0.0.1:7422") {
    Received r;
    ConnId id = resd(R"(,"http":")" + http + "\"", &r);
    EXPECT_TRUE(ok(r)) << r.raw;
    return id;
  }
  // A media message alice -> bob of `size` bytes; returns its id.
  uint64_t send_media(ConnId alice, const std::string& cid, uint64_t size = 1000,
                      const std::string& name = "holiday.jpg") {
    Received r =
        rpc(alice, R"({"op":"send_media","rid":2,"to":"bob","cid":")" + cid +
                       R"(","kind":"image","name":")" + name + R"(","size":)" +
                       std::to_string(size) + R"(,"mime":"image/jpeg","sha256":")" + kSha + "\"}");
    EXPECT_TRUE(ok(r)) << r.raw;
    return num(msg(r), "id");
  }
  void done(ConnId peer, uint64_t id, uint64_t size = 1000) {
    Received r =
        rpc(peer, R"({"op":"upload_done","rid":5,"message_id":)" + std::to_string(id) +
                      R"(,"size":)" + std::to_string(size) + R"(,"sha256":")" + kSha + R"("})");
    EXPECT_TRUE(ok(r)) << r.raw;
  }
  Received download(ConnId c, uint64_t id, const std::string& extra = "") {
    return rpc(c,
               R"({"op":"download_url","rid":7,"message_id":)" + std::to_string(id) + extra + "}");
  }
};

TEST_F(ChatDownloadTest, parties_get_a_signed_url_with_every_claim) {
  ConnId alice = user("alice");
  ConnId bob = user("bob");
  ConnId peer = linked("127.0.0.1:7422");
  uint64_t id = send_media(alice, "cid-00001", 734003, "Ferien \\\"2026\\\".jpg");
  done(peer, id, 734003);
  EXPECT_EQ(core_->http_address(), "127.0.0.1:7422");

  for (ConnId who : {alice, bob}) {
    Received r = download(who, id, R"(,"ttl_s":60)");
    ASSERT_TRUE(ok(r)) << r.raw;
    const cJSON* d = get(r.body.get(), "download");
    std::string ticket = str(d, "ticket");
    EXPECT_EQ(str(d, "url"), "http://127.0.0.1:7422/m/" + std::to_string(id) + "?t=" + ticket);
    EXPECT_EQ(num(d, "expires_ms"), uint64_t(now_ + 60'000));
    EXPECT_EQ(num(d, "size"), 734003u);
    EXPECT_EQ(str(d, "sha256"), kSha);
    EXPECT_EQ(str(d, "name"), "Ferien \"2026\".jpg");
    EXPECT_EQ(str(d, "mime"), "image/jpeg");
    EXPECT_EQ(ticket.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
              std::string::npos)
        << "needs no escaping in a URL";

    proto::TicketClaims c;
    ASSERT_EQ(proto::ticket_verify(ticket, kKey, proto::TicketKind::Download, now_, c),
              proto::TicketError::Ok);
    EXPECT_EQ(c.user_id, who == alice ? 1u : 2u) << "u is the asking user";
    EXPECT_EQ(c.message_id, id);
    EXPECT_EQ(c.size, 734003u);
    EXPECT_EQ(c.sha256_hex, kSha);
    EXPECT_EQ(c.expires_ms, now_ + 60'000);
    EXPECT_EQ(c.name, "Ferien \"2026\".jpg");
    EXPECT_EQ(c.mime, "image/jpeg");
    EXPECT_EQ(proto::ticket_verify(ticket, kKey, proto::TicketKind::Upload, now_, c),
              proto::TicketError::WrongKind);
    EXPECT_EQ(proto::ticket_verify(ticket, kKey, proto::TicketKind::Download, now_ + 60'000, c),
              proto::TicketError::Expired);
  }
}

TEST_F(ChatDownloadTest, ttl_defaults_to_an_hour_and_is_bounded) {
  ConnId alice = user("alice");
  user("bob");
  ConnId peer = linked();
  uint64_t id = send_media(alice, "cid-00001");
  done(peer, id);
  Received r = download(alice, id);
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_EQ(num(get(r.body.get(), "download"), "expires_ms"), uint64_t(now_ + 3600'000));
  r = download(alice, id, R"(,"ttl_s":604800)");
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_EQ(num(get(r.body.get(), "download"), "expires_ms"), uint64_t(now_ + 604800'000LL));
  r = download(alice, id, R"(,"ttl_s":1)");
  EXPECT_TRUE(ok(r)) << r.raw;
  for (const char* bad : {R"(,"ttl_s":0)", R"(,"ttl_s":604801)", R"(,"ttl_s":-1)",
                          R"(,"ttl_s":"60")", R"(,"ttl_s":1.5)"}) {
    r = download(alice, id, bad);
    EXPECT_EQ(code_of(r), "bad_request") << bad << " " << r.raw;
  }
  r = rpc(alice, R"({"op":"download_url","rid":7})");
  EXPECT_EQ(code_of(r), "bad_request") << r.raw;
  r = rpc(alice, R"({"op":"download_url","rid":7,"message_id":"1"})");
  EXPECT_EQ(code_of(r), "bad_request") << r.raw;
  r = download(alice, id, R"(,"user_id":2)");
  EXPECT_EQ(code_of(r), "unknown_field") << r.raw;
}

TEST_F(ChatDownloadTest, strangers_missing_ids_and_text_are_unknown_message) {
  ConnId alice = user("alice");
  ConnId bob = user("bob");
  ConnId carol = user("carol");
  ConnId peer = linked();
  uint64_t id = send_media(alice, "cid-00001");
  done(peer, id);
  Received t = rpc(alice, R"({"op":"send","rid":2,"to":"bob","cid":"cid-text1","text":"hi"})");
  ASSERT_TRUE(ok(t)) << t.raw;
  uint64_t text_id = num(msg(t), "id");

  EXPECT_EQ(code_of(download(carol, id)), "unknown_message");
  EXPECT_EQ(code_of(download(alice, id + 100)), "unknown_message");
  EXPECT_EQ(code_of(download(bob, text_id)), "unknown_message");
  EXPECT_EQ(code_of(download(alice, text_id)), "unknown_message");
  // The answers do not tell a stranger whether the id exists.
  EXPECT_EQ(error_text(download(carol, id)).find("ready"), std::string::npos);
  EXPECT_TRUE(ok(download(bob, id)));
}

TEST_F(ChatDownloadTest, not_ready_says_the_status) {
  ConnId alice = user("alice");
  ConnId bob = user("bob");
  ConnId peer = linked();
  uint64_t id = send_media(alice, "cid-00001", 1000);
  Received r = download(bob, id);
  EXPECT_EQ(code_of(r), "not_ready");
  EXPECT_EQ(error_text(r), "message " + std::to_string(id) + " is uploading (0%)");
  Received p = rpc(peer, R"({"op":"upload_progress","rid":4,"message_id":)" + std::to_string(id) +
                             R"(,"done":370,"total":1000})");
  ASSERT_TRUE(ok(p)) << p.raw;
  r = download(alice, id);
  EXPECT_EQ(code_of(r), "not_ready");
  EXPECT_EQ(error_text(r), "message " + std::to_string(id) + " is uploading (37%)");
  // not_ready is an ordinary request error: the connection stays usable.
  EXPECT_FALSE(closed(alice));

  uint64_t cancelled = send_media(alice, "cid-00002");
  ASSERT_TRUE(ok(rpc(
      alice, R"({"op":"cancel_upload","rid":3,"message_id":)" + std::to_string(cancelled) + "}")));
  r = download(bob, cancelled);
  EXPECT_EQ(code_of(r), "not_ready");
  EXPECT_EQ(error_text(r), "message " + std::to_string(cancelled) + " is cancelled");

  uint64_t failed = send_media(alice, "cid-00003");
  Received f = rpc(peer, R"({"op":"upload_done","rid":5,"message_id":)" + std::to_string(failed) +
                             R"(,"size":999,"sha256":")" + kSha + R"("})");
  EXPECT_EQ(code_of(f), "bad_request");
  r = download(bob, failed);
  EXPECT_EQ(code_of(r), "not_ready");
  EXPECT_EQ(error_text(r), "message " + std::to_string(failed) + " is failed");
}

TEST_F(ChatDownloadTest, no_http_address_is_no_resource_server) {
  ConnId alice = user("alice");
  user("bob");
  Received a;
  ConnId peer = resd("", &a);  // an older resd: no http field
  ASSERT_TRUE(ok(a)) << a.raw;
  uint64_t id = send_media(alice, "cid-00001");
  done(peer, id);
  EXPECT_EQ(core_->http_address(), "");
  EXPECT_EQ(code_of(download(alice, id)), "no_resource_server");
  linked("[::1]:8080");
  Received r = download(alice, id);
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_EQ(str(get(r.body.get(), "download"), "url").rfind("http://[::1]:8080/m/", 0), 0u);
}

TEST_F(ChatDownloadTest, peer_auth_http_is_validated_latest_wins_and_outlives_the_link) {
  Received r;
  for (const char* bad :
       {R"(,"http":"")", R"(,"http":"nohost")", R"(,"http":"h:0")", R"(,"http":"h:65536")",
        R"(,"http":"a b:80")", R"(,"http":7422)", R"(,"http":"h/x:80")"}) {
    ConnId c = resd(bad, &r);
    EXPECT_EQ(code_of(r), "bad_request") << bad << " " << r.raw;
    // A refused peer_auth leaves the connection greeted: nothing was linked.
    EXPECT_EQ(core_->peer_count(), 0u);
    core_->on_close(c);
  }
  EXPECT_EQ(core_->http_address(), "");

  ConnId first = linked("127.0.0.1:1111");
  ConnId second = linked("files.example.org:8080");
  EXPECT_EQ(core_->http_address(), "files.example.org:8080");
  core_->on_close(second);
  core_->on_close(first);
  EXPECT_EQ(core_->http_address(), "files.example.org:8080") << "outlives the link";
  resd("", &r);  // relinks without HTTP: the last announced address stays
  ASSERT_TRUE(ok(r)) << r.raw;
  EXPECT_EQ(core_->http_address(), "files.example.org:8080");
  EXPECT_EQ(core_->resource_address(), "127.0.0.1:7421");

  // Nothing is persisted: a restarted chat server knows no address until a resd links.
  open_core();
  EXPECT_EQ(core_->http_address(), "");
}

TEST_F(ChatDownloadTest, needs_login_and_is_refused_on_peer_connections) {
  ConnId anon = greeted();
  Received r = rpc(anon, R"({"op":"download_url","rid":7,"message_id":1})");
  EXPECT_EQ(code_of(r), "not_authenticated");
  ConnId peer = linked();
  r = rpc(peer, R"({"op":"download_url","rid":7,"message_id":1})");
  EXPECT_EQ(code_of(r), "unknown_op");
}

TEST_F(ChatDownloadTest, instant_send_copy_is_downloadable_by_its_own_parties) {
  ConnId alice = user("alice");
  ConnId bob = user("bob");
  ConnId carol = user("carol");
  ConnId peer = linked();
  uint64_t first = send_media(alice, "cid-00001");
  done(peer, first);
  // Same content again to carol: ready at once (instant send); carol may fetch it, bob may
  // fetch only his own message's copy.
  Received r = rpc(alice, R"({"op":"send_media","rid":2,"to":"carol","cid":"cid-00002",)"
                          R"("kind":"image","name":"again.jpg","size":1000,"mime":"image/jpeg",)"
                          R"("sha256":")" +
                              kSha + "\"}");
  ASSERT_TRUE(ok(r)) << r.raw;
  uint64_t second = num(msg(r), "id");
  EXPECT_EQ(str(msg(r), "status"), "ready");
  Received d = download(carol, second);
  ASSERT_TRUE(ok(d)) << d.raw;
  EXPECT_EQ(str(get(d.body.get(), "download"), "name"), "again.jpg");
  EXPECT_EQ(code_of(download(bob, second)), "unknown_message");
  EXPECT_EQ(code_of(download(carol, first)), "unknown_message");
}

}  // namespace
}  // namespace ferry::chat
