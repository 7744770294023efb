// What: the real ferry-chatd binary, spoken to over raw TCP: bad bytes cut only the guilty
// connection, an acknowledged message survives kill -9, SIGTERM exits 0 after telling
// clients, slow readers are dropped, the command line (--help, bad flags, --config with
// flags overriding) behaves as documented, and the resource-server link works end to end: a
// fake resd links with the shared secret file, a client's send_media gets a ticket for the
// advertised address, and the resd's upload_done reaches both parties as a status push.
// How: ferry::test::Process starts the server on 127.0.0.1:0 in a TempDir; a small blocking
// socket client speaks the frame protocol with poll() timeouts (no sleeps).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "proto/frame.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "proto/ticket.h"
#include "tests/support/process.h"
#include "tests/support/raw_client.h"

namespace {

using ferry::proto::FrameType;
using ferry::test::peer_mac;
using ferry::test::Process;
using ferry::test::TempDir;

struct Frame {
  FrameType type;
  ferry::proto::Json body;
  std::string raw;
};

// The shared raw socket (tests/support/raw_client.h) with bodies parsed as JSON.
class RawClient {
 public:
  explicit RawClient(int port, int rcvbuf = 0) : sock_(port, 1u << 24, rcvbuf) {}
  bool connected() const { return sock_.connected(); }

  void send_raw(const std::string& bytes) { sock_.send_raw(bytes); }
  void send(FrameType t, const std::string& body) { sock_.send(t, body); }
  // Next frame, or nullopt on EOF/reset or timeout.
  std::optional<Frame> recv(int timeout_ms = 10000) {
    auto f = sock_.recv_frame(timeout_ms);
    if (!f) return std::nullopt;
    return Frame{f->type, ferry::proto::json_parse(f->body), std::move(f->body)};
  }
  // True when the server closes the connection within the timeout (pending frames dropped).
  bool wait_closed(int timeout_ms = 10000) { return sock_.wait_closed(timeout_ms); }
  std::optional<Frame> rpc(const std::string& body) {
    send(FrameType::Request, body);
    while (auto f = recv()) {
      if (f->type == FrameType::Response) return f;
    }
    return std::nullopt;
  }
  bool hello(std::string* challenge = nullptr) {
    send(FrameType::Hello, R"({"proto":1,"agent":"chatd_raw_test"})");
    auto f = recv();
    if (!f || f->type != FrameType::Hello) return false;
    const cJSON* c = cJSON_GetObjectItem(f->body.get(), "challenge");
    if (challenge && cJSON_IsString(c)) *challenge = c->valuestring;
    return true;
  }
  // Next PUSH whose event is `event`, skipping others.
  std::optional<Frame> push(const std::string& event, int timeout_ms = 10000) {
    while (auto f = recv(timeout_ms)) {
      const cJSON* e = cJSON_GetObjectItem(f->body.get(), "event");
      if (f->type == FrameType::Push && cJSON_IsString(e) && event == e->valuestring) return f;
    }
    return std::nullopt;
  }

 private:
  ferry::test::RawSocket sock_;
};

std::string str(const Frame& f, const char* k) {
  const cJSON* v = cJSON_GetObjectItem(f.body.get(), k);
  return cJSON_IsString(v) ? v->valuestring : "";
}
bool ok(const std::optional<Frame>& f) {
  return f && cJSON_IsTrue(cJSON_GetObjectItem(f->body.get(), "ok"));
}
std::string account(const char* op, const char* user) {
  return std::string(R"({"op":")") + op + R"(","rid":1,"user":")" + user +
         R"(","password":"correct horse"})";
}
std::string send_req(const std::string& to, const std::string& cid, const std::string& text) {
  return R"({"op":"send","rid":2,"to":")" + to + R"(","cid":")" + cid + R"(","text":")" + text +
         R"("})";
}

class ChatdRawTest : public ::testing::Test {
 protected:
  bool start(Process& p, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {ferry::test::bin_path("ferry-chatd"),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data",
                                     dir_.sub("data"),
                                     "--kdf-iterations",
                                     "1000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return p.start(argv);
  }
  TempDir dir_;
};

TEST_F(ChatdRawTest, garbage_is_cut_off_while_others_chat) {
  Process server;
  ASSERT_TRUE(start(server));
  RawClient alice(server.port()), bob(server.port()), junk(server.port());
  ASSERT_TRUE(alice.hello() && bob.hello());
  ASSERT_TRUE(ok(alice.rpc(account("register", "alice"))));
  ASSERT_TRUE(ok(bob.rpc(account("register", "bob"))));

  junk.send_raw(std::string("\x00\x00\x00\x10\xee garbage garbage garbage", 29));
  auto err = junk.recv();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->type, FrameType::Error);
  EXPECT_EQ(str(*err, "code"), "bad_frame_type");
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(err->body.get(), "fatal")));
  EXPECT_TRUE(junk.wait_closed());

  auto r = alice.rpc(send_req("bob", "cid-raw-0001", "still here"));
  ASSERT_TRUE(ok(r)) << (r ? r->raw : "no response");
  auto push = bob.recv();
  ASSERT_TRUE(push);
  EXPECT_EQ(push->type, FrameType::Push);
  EXPECT_NE(push->raw.find("still here"), std::string::npos);

  // An oversized frame is refused from its header alone.
  RawClient big(server.port());
  ASSERT_TRUE(big.hello());
  big.send_raw(std::string("\x7f\x00\x00\x00\x02", 5));
  auto e2 = big.recv();
  ASSERT_TRUE(e2);
  EXPECT_EQ(str(*e2, "code"), "frame_too_large");
  EXPECT_TRUE(big.wait_closed());
  EXPECT_TRUE(server.running());
}

TEST_F(ChatdRawTest, acknowledged_message_survives_kill9) {
  Process server;
  ASSERT_TRUE(start(server));
  {
    RawClient alice(server.port()), bob(server.port());
    ASSERT_TRUE(alice.hello() && bob.hello());
    ASSERT_TRUE(ok(alice.rpc(account("register", "alice"))));
    ASSERT_TRUE(ok(bob.rpc(account("register", "bob"))));
    ASSERT_TRUE(ok(alice.rpc(send_req("bob", "cid-kill-0001", "survive this"))));
    server.kill9();  // right after the acknowledgement
  }
  Process again;
  ASSERT_TRUE(start(again));
  RawClient bob(again.port());
  ASSERT_TRUE(bob.hello());
  ASSERT_TRUE(ok(bob.rpc(account("login", "bob"))));
  auto s = bob.rpc(R"({"op":"sync","rid":3,"since":0})");
  ASSERT_TRUE(ok(s));
  EXPECT_NE(s->raw.find("survive this"), std::string::npos) << s->raw;
}

TEST_F(ChatdRawTest, sigterm_tells_clients_and_exits_zero) {
  Process server;
  ASSERT_TRUE(start(server));
  RawClient alice(server.port());
  ASSERT_TRUE(alice.hello());
  ASSERT_TRUE(ok(alice.rpc(account("register", "alice"))));
  EXPECT_EQ(server.terminate(), 0);
  auto f = alice.recv();
  ASSERT_TRUE(f);
  EXPECT_EQ(str(*f, "code"), "shutting_down");
  EXPECT_TRUE(alice.wait_closed());
}

TEST_F(ChatdRawTest, slow_consumer_is_disconnected) {
  Process server;
  ASSERT_TRUE(start(server, {"--max-queue-bytes", "65536"}));
  RawClient alice(server.port()), bob(server.port(), 4096);
  ASSERT_TRUE(alice.hello() && bob.hello());
  ASSERT_TRUE(ok(alice.rpc(account("register", "alice"))));
  ASSERT_TRUE(ok(bob.rpc(account("register", "bob"))));
  std::string text(60000, 'z');
  for (int i = 0; i < 200; i++) {  // 12 MB for a reader that reads nothing meanwhile
    ASSERT_TRUE(ok(alice.rpc(send_req("bob", "cid-slow-" + std::to_string(1000 + i), text))));
  }
  int pushes = 0;
  std::string last_error;
  while (auto f = bob.recv()) {
    if (f->type == FrameType::Push) pushes++;
    if (f->type == FrameType::Error) last_error = str(*f, "code");
  }
  EXPECT_LT(pushes, 200);  // cut off before everything was queued for it
  if (!last_error.empty()) {
    EXPECT_EQ(last_error, "slow_consumer");
  }
  EXPECT_TRUE(bob.wait_closed(1000));
  EXPECT_TRUE(server.running());
}

TEST_F(ChatdRawTest, help_documents_every_flag) {
  auto r = ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--listen", "--data", "--config", "--secret-file", "--kdf-iterations",
                           "--idle-timeout-ms", "--max-queue-bytes", "--sync", "--help"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  auto bad = ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--no-such-flag"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--no-such-flag"), std::string::npos);
  auto range = ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--kdf-iterations", "5"});
  EXPECT_EQ(range.status, 2);
  auto sync = ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--sync", "sometimes"});
  EXPECT_EQ(sync.status, 2);
}

TEST_F(ChatdRawTest, config_file_is_used_and_flags_override_it) {
  std::string cfg = dir_.sub("chatd.json");
  std::ofstream(cfg) << R"({"listen":"127.0.0.1:0","data":")" << dir_.sub("from-config")
                     << R"(","kdf_iterations":1000,"idle_timeout_ms":4500,"sync":"full"})";
  auto hello_idle = [](const Process& p) {
    RawClient c(p.port());
    c.send(FrameType::Hello, R"({"proto":1})");
    auto f = c.recv();
    const cJSON* v = f ? cJSON_GetObjectItem(f->body.get(), "idle_timeout_ms") : nullptr;
    return cJSON_IsNumber(v) ? static_cast<int>(v->valuedouble) : -1;
  };
  {
    Process p;
    ASSERT_TRUE(p.start({ferry::test::bin_path("ferry-chatd"), "--config", cfg}));
    EXPECT_EQ(hello_idle(p), 4500);
    EXPECT_TRUE(std::filesystem::exists(dir_.sub("from-config") + "/chat.db"));
    EXPECT_EQ(p.terminate(), 0);
  }
  {
    Process p;
    ASSERT_TRUE(p.start({ferry::test::bin_path("ferry-chatd"), "--idle-timeout-ms", "7000",
                         "--config", cfg, "--data", dir_.sub("from-flag")}));
    EXPECT_EQ(hello_idle(p), 7000);
    EXPECT_TRUE(std::filesystem::exists(dir_.sub("from-flag") + "/chat.db"));
    EXPECT_EQ(p.terminate(), 0);
  }
  std::ofstream(dir_.sub("bad.json")) << R"({"listen":"127.0.0.1:0","colour":"red"})";
  auto bad =
      ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--config", dir_.sub("bad.json")});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("colour"), std::string::npos);
}

TEST_F(ChatdRawTest, resource_link_upload_done_reaches_both_parties) {
  std::string secret_file = dir_.sub("shared.key");
  Process server;
  ASSERT_TRUE(start(server, {"--secret-file", secret_file}));
  std::string key, err;
  ASSERT_TRUE(ferry::proto::load_or_create_secret(secret_file, key, err)) << err;  // chatd made it

  RawClient alice(server.port()), bob(server.port()), resd(server.port());
  ASSERT_TRUE(alice.hello() && bob.hello());
  ASSERT_TRUE(ok(alice.rpc(account("register", "alice"))));
  ASSERT_TRUE(ok(bob.rpc(account("register", "bob"))));
  const std::string sha(64, 'd');
  const std::string media = R"({"op":"send_media","rid":3,"to":"bob","cid":"cid-link-0001",)"
                            R"("kind":"file","name":"report.pdf","size":4096,)"
                            R"("mime":"application/pdf","sha256":")" + sha + R"("})";
  auto early = alice.rpc(media);
  ASSERT_TRUE(early);
  EXPECT_NE(early->raw.find("no_resource_server"), std::string::npos) << early->raw;

  // A wrong key is refused; the right one links and advertises the upload address.
  std::string challenge;
  ASSERT_TRUE(resd.hello(&challenge));
  ASSERT_EQ(challenge.size(), 64u);
  auto bad = resd.rpc(R"({"op":"peer_auth","rid":1,"mac":")" + peer_mac("wrong", challenge) +
                      R"(","advertise":"127.0.0.1:7999"})");
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->raw.find("auth_failed"), std::string::npos) << bad->raw;
  auto linked = resd.rpc(R"({"op":"peer_auth","rid":2,"mac":")" + peer_mac(key, challenge) +
                         R"(","advertise":"127.0.0.1:7999"})");
  ASSERT_TRUE(ok(linked)) << (linked ? linked->raw : "no response");

  auto sent = alice.rpc(media);
  ASSERT_TRUE(ok(sent)) << (sent ? sent->raw : "no response");
  const cJSON* upload = cJSON_GetObjectItem(sent->body.get(), "upload");
  const cJSON* resource = cJSON_GetObjectItem(upload, "resource");
  ASSERT_TRUE(cJSON_IsString(resource));
  EXPECT_STREQ(resource->valuestring, "127.0.0.1:7999");
  ferry::proto::TicketClaims claims;
  const cJSON* ticket = cJSON_GetObjectItem(upload, "ticket");
  ASSERT_TRUE(cJSON_IsString(ticket));
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  ASSERT_EQ(ferry::proto::ticket_verify(ticket->valuestring, key, ferry::proto::TicketKind::Upload,
                                        now_ms, claims),
            ferry::proto::TicketError::Ok);
  EXPECT_EQ(claims.size, 4096u);
  EXPECT_EQ(claims.sha256_hex, sha);
  uint64_t id = claims.message_id;
  auto pushed = bob.push("message");
  ASSERT_TRUE(pushed);
  EXPECT_NE(pushed->raw.find("\"status\":\"uploading\""), std::string::npos) << pushed->raw;

  std::string mid = std::to_string(id);
  ASSERT_TRUE(ok(resd.rpc(R"({"op":"upload_progress","rid":3,"message_id":)" + mid +
                          R"(,"done":2048,"total":4096})")));
  auto progress = bob.push("progress");
  ASSERT_TRUE(progress);
  EXPECT_NE(progress->raw.find("\"done\":2048"), std::string::npos) << progress->raw;
  // Peer connections take only peer ops.
  auto refused = resd.rpc(R"({"op":"sync","rid":4})");
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->raw.find("unknown_op"), std::string::npos) << refused->raw;

  const std::string done = R"({"op":"upload_done","rid":5,"message_id":)" + mid +
                           R"(,"size":4096,"sha256":")" + sha + R"("})";
  auto d = resd.rpc(done);
  ASSERT_TRUE(ok(d)) << (d ? d->raw : "no response");
  EXPECT_NE(d->raw.find("\"status\":\"ready\""), std::string::npos);
  for (RawClient* c : {&alice, &bob}) {
    auto st = c->push("status");
    ASSERT_TRUE(st);
    EXPECT_NE(st->raw.find("\"status\":\"ready\""), std::string::npos) << st->raw;
    EXPECT_NE(st->raw.find("\"message_id\":" + mid), std::string::npos) << st->raw;
  }
  EXPECT_TRUE(ok(resd.rpc(done)));  // the resd's outbox re-sends: still ready

  // Ready survives kill -9, and the restarted chatd keeps the same secret file.
  server.kill9();
  Process again;
  ASSERT_TRUE(start(again, {"--secret-file", secret_file}));
  RawClient bob2(again.port());
  ASSERT_TRUE(bob2.hello());
  ASSERT_TRUE(ok(bob2.rpc(account("login", "bob"))));
  auto s = bob2.rpc(R"({"op":"sync","rid":6})");
  ASSERT_TRUE(ok(s));
  EXPECT_NE(s->raw.find("\"status\":\"ready\""), std::string::npos) << s->raw;
  std::string key2;
  ASSERT_TRUE(ferry::proto::load_or_create_secret(secret_file, key2, err));
  EXPECT_EQ(key2, key);
}

TEST_F(ChatdRawTest, secret_file_defaults_into_the_data_directory) {
  Process server;
  ASSERT_TRUE(start(server));
  EXPECT_TRUE(std::filesystem::exists(dir_.sub("data") + "/secret.key"));
  auto perms = std::filesystem::status(dir_.sub("data") + "/secret.key").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_read, std::filesystem::perms::none);
  EXPECT_EQ(server.terminate(), 0);
  std::ofstream(dir_.sub("bad.key")) << "not hex\n";
  auto bad = ferry::test::run({ferry::test::bin_path("ferry-chatd"), "--listen", "127.0.0.1:0",
                               "--data", dir_.sub("data2"), "--secret-file", dir_.sub("bad.key")});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("bad.key"), std::string::npos) << bad.err;
}

}  // namespace
