// What: the real ferry-chatd binary, spoken to over raw TCP: bad bytes cut only the guilty
// connection, an acknowledged message survives kill -9, SIGTERM exits 0 after telling
// clients, slow readers are dropped, and the command line (--help, bad flags, --config with
// flags overriding) behaves as documented.
// How: ferry::test::Process starts the server on 127.0.0.1:0 in a TempDir; a small blocking
// socket client speaks the frame protocol with poll() timeouts (no sleeps).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "proto/frame.h"
#include "proto/json.h"
#include "tests/support/process.h"

namespace {

using ferry::proto::FrameType;
using ferry::test::Process;
using ferry::test::TempDir;

struct Frame {
  FrameType type;
  ferry::proto::Json body;
  std::string raw;
};

class RawClient {
 public:
  explicit RawClient(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }

  void send_raw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void send(FrameType t, const std::string& body) {
    std::string out;
    ferry::proto::encode_frame(out, t, body);
    send_raw(out);
  }
  // Next frame, or nullopt on EOF/reset (closed() then says true) or timeout.
  std::optional<Frame> recv(int timeout_ms = 10000) {
    ferry::proto::Frame f;
    while (true) {
      auto st = decoder_.next(f);
      if (st == ferry::proto::DecodeStatus::Ready) {
        return Frame{f.type, ferry::proto::json_parse(f.body), std::string(f.body)};
      }
      if (st != ferry::proto::DecodeStatus::NeedMore) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      decoder_.feed(buf, static_cast<size_t>(n));
    }
  }
  // True when the server closes the connection within the timeout (pending frames dropped).
  bool wait_closed(int timeout_ms = 10000) {
    while (!closed_) {
      if (!recv(timeout_ms) && !closed_) return false;
    }
    return true;
  }
  std::optional<Frame> rpc(const std::string& body) {
    send(FrameType::Request, body);
    while (auto f = recv()) {
      if (f->type == FrameType::Response) return f;
    }
    return std::nullopt;
  }
  bool hello() {
    send(FrameType::Hello, R"({"proto":1,"agent":"chatd_raw_test"})");
    auto f = recv();
    return f && f->type == FrameType::Hello;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  ferry::proto::FrameDecoder decoder_{1u << 24};
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
  for (const char* flag : {"--listen", "--data", "--config", "--kdf-iterations",
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

}  // namespace
