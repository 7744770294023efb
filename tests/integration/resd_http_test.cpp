// What: downloads end to end (issue #4 §1 and §4, docs/protocol-download.md): real
// ferry-chatd and ferry-resd (--http 127.0.0.1:0) on loopback; a file uploaded over the raw
// upload protocol; download URLs from chatd's download_url for the sender and the receiver
// (a third user gets unknown_message, an unfinished upload not_ready); Debian's curl fetching
// identical bytes, resuming a partial file with `-C -`, HEAD, a 206 range and a 416; wrong,
// expired, other-message, forged, upload-kind and missing tickets (403/401); a verified ticket
// for content that is not stored (404); malformed requests over a raw TCP socket (400, 414,
// 431, 405, 501, odd paths), pipelining and HTTP/1.0 close; a reader that never reads does
// not stop others — and after every bad request another client still downloads the file.
// How: one cluster per suite (SetUpTestSuite) in a TempDir; ferry::test::Process starts and
// stops the servers by pid; chatd is spoken to with RawSocket; curl runs via test::run.
// Waits are polls with deadlines; no duration is asserted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proto/chunk_sum.h"
#include "proto/frame.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "proto/ticket.h"
#include "proto/upload_frames.h"
#include "tests/support/process.h"
#include "tests/support/test_bytes.h"
#include "tests/support/raw_client.h"

namespace {

using ferry::proto::FrameType;
using ferry::test::Process;
using ferry::test::RunResult;
using ferry::test::TempDir;
using ferry::test::noise_bytes;
using ferry::test::wall_ms;

constexpr const char* kCurl = "/usr/bin/curl";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_file(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), std::streamsize(data.size()));
}
std::string hex_sha(std::string_view data) {
  return ferry::proto::hex_encode(ferry::proto::sha256(data));
}

// Polls pred() every 20 ms until it holds or the deadline passes.
template <typename Pred>
bool wait_for(Pred pred, int timeout_ms = 30000) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// A chatd client over the raw frame protocol, with JSON bodies.
class Chat {
 public:
  explicit Chat(int port) : sock_(port, 1u << 24) {
    sock_.send(FrameType::Hello, R"({"proto":1,"agent":"resd_http_test"})");
    auto h = sock_.recv_frame(10000);
    hello_ok_ = h && h->type == FrameType::Hello;
  }
  bool ok() const { return hello_ok_ && sock_.connected(); }
  // Sends a request, returns the RESPONSE (pushes are skipped).
  ferry::proto::Json rpc(const std::string& body) {
    sock_.send(FrameType::Request, body);
    while (auto f = sock_.recv_frame(15000)) {
      if (f->type == FrameType::Response) return ferry::proto::json_parse(f->body);
    }
    return ferry::proto::Json(nullptr);
  }

 private:
  ferry::test::RawSocket sock_;
  bool hello_ok_ = false;
};

bool is_ok(const ferry::proto::Json& j) {
  return j && cJSON_IsTrue(cJSON_GetObjectItem(j.get(), "ok"));
}
std::string code_of(const ferry::proto::Json& j) {
  const cJSON* e = j ? cJSON_GetObjectItem(j.get(), "error") : nullptr;
  const cJSON* c = e ? cJSON_GetObjectItem(e, "code") : nullptr;
  return cJSON_IsString(c) ? c->valuestring : "";
}
std::string str_at(const cJSON* j, const char* a, const char* b = nullptr) {
  const cJSON* v = j ? cJSON_GetObjectItem(j, a) : nullptr;
  if (b) v = v ? cJSON_GetObjectItem(v, b) : nullptr;
  return cJSON_IsString(v) ? v->valuestring : "";
}
uint64_t num_at(const cJSON* j, const char* a, const char* b) {
  const cJSON* v = j ? cJSON_GetObjectItem(j, a) : nullptr;
  v = v ? cJSON_GetObjectItem(v, b) : nullptr;
  return cJSON_IsNumber(v) ? static_cast<uint64_t>(v->valuedouble) : 0;
}

// Uploads `file` over the raw upload protocol with `ticket` to resd at `port`.
bool upload(int port, const std::string& ticket, const std::string& file) {
  ferry::test::RawSocket s(port, 64u << 20);
  s.send(FrameType::Hello, R"({"proto":1,"agent":"resd_http_test"})");
  auto h = s.recv_frame(10000);
  if (!h || h->type != FrameType::Hello) return false;
  std::string f;
  ferry::proto::encode_upload_open(f, {1, ticket});
  s.send_raw(f);
  ferry::proto::UploadState st;
  while (true) {
    auto fr = s.recv_frame(15000);
    if (!fr) return false;
    if (fr->type != FrameType::UploadState) continue;
    std::string err;
    if (!ferry::proto::decode_upload_state(fr->body, st, err)) return false;
    break;
  }
  if (st.status != ferry::proto::UploadStatus::Ok) return false;
  for (uint64_t i = 0; i < st.total_chunks; i++) {
    std::string_view piece = std::string_view(file).substr(i * st.chunk_size, st.chunk_size);
    std::string c;
    ferry::proto::encode_chunk(c, 1, i, ferry::proto::chunk_sum(piece.data(), piece.size()),
                               piece);
    s.send_raw(c);
  }
  while (auto fr = s.recv_frame(30000)) {
    if (fr->type != FrameType::UploadDone) continue;
    ferry::proto::UploadDone d;
    std::string err;
    return ferry::proto::decode_upload_done(fr->body, d, err) &&
           d.status == ferry::proto::UploadStatus::Ok;
  }
  return false;
}

// A plain TCP client for hand-made HTTP requests.
class Tcp {
 public:
  explicit Tcp(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Tcp() { close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early (e.g. 431 before all is sent)
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void shut_wr() { shutdown(fd_, SHUT_WR); }
  // Reads until the peer closes (true) or the timeout passes (false).
  bool read_to_eof(std::string& out, int timeout_ms = 15000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      out.append(buf, static_cast<size_t>(n));
    }
    return false;
  }
  // Reads until `out` holds `n` bytes or the timeout passes.
  bool read_n(std::string& out, size_t n, int timeout_ms = 15000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      ssize_t r = recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out.size() >= n;
  }
  // One response: head up to the blank line, then Content-Length bytes of body.
  bool read_response(std::string& head, std::string& body, bool has_body = true) {
    std::string buf;
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      std::string more;
      if (!read_n(more, 1)) return false;
      buf += more;
    }
    head = buf.substr(0, end + 4);
    body = buf.substr(end + 4);
    size_t cl = head.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::stoull(head.substr(cl + 16));
    if (!has_body) len = 0;
    return read_n(body, len) && body.size() == len;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

int status_of(const std::string& head) {
  return head.size() > 12 && head.rfind("HTTP/1.1 ", 0) == 0 ? std::stoi(head.substr(9, 3)) : 0;
}

class ResdHttpTest : public ::testing::Test {
 protected:
  struct Cluster {
    TempDir dir;
    Process chatd, resd;
    std::string key;
    std::unique_ptr<Chat> alice, bob, carol;
    std::string file;  // the uploaded content
    std::string sha;
    uint64_t id = 0;      // alice -> bob
    uint64_t other = 0;   // alice -> carol, also ready (instant send of other content)
    std::string bob_url;  // bob's download URL for `id`
    std::string bob_ticket;
    int http_port = 0;
  };
  static inline Cluster* c_ = nullptr;

  static void SetUpTestSuite() {
    c_ = new Cluster;
    Cluster& c = *c_;
    std::string secret = c.dir.sub("secret.key");
    ASSERT_TRUE(
        c.chatd.start({ferry::test::bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                       c.dir.sub("chat"), "--secret-file", secret, "--kdf-iterations", "1000"}));
    // The ready line "http listening on" comes after the upload port's; Process parses the
    // HTTP port from it. The upload address reaches clients through chatd (send_media).
    ASSERT_TRUE(c.resd.start(
        {ferry::test::bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
         "--data", c.dir.sub("res"), "--secret-file", secret, "--chat", c.chatd.address()},
        "http listening on "));
    c.http_port = c.resd.port();
    std::string err;
    ASSERT_TRUE(ferry::proto::load_or_create_secret(secret, c.key, err)) << err;

    c.alice = std::make_unique<Chat>(c.chatd.port());
    c.bob = std::make_unique<Chat>(c.chatd.port());
    c.carol = std::make_unique<Chat>(c.chatd.port());
    for (auto [chat, name] : {std::pair{c.alice.get(), "alice"}, std::pair{c.bob.get(), "bob"},
                              std::pair{c.carol.get(), "carol"}}) {
      ASSERT_TRUE(chat->ok());
      ASSERT_TRUE(is_ok(chat->rpc(std::string(R"({"op":"register","rid":1,"user":")") + name +
                                  R"(","password":"correct horse"})")));
    }
    c.file = noise_bytes((3u << 20) + 12345, 7);
    c.sha = hex_sha(c.file);
    c.id = send_and_upload(*c.alice, "bob", "cid-http-1", c.file, "Ferien été \\\"2026\\\".bin");
    std::string second = noise_bytes(5000, 8);
    c.other = send_and_upload(*c.alice, "carol", "cid-http-2", second, "other.bin");
    ASSERT_NE(c.id, 0u);
    ASSERT_NE(c.other, 0u);
    ferry::proto::Json d = wait_url(*c.bob, c.id);
    ASSERT_TRUE(is_ok(d));
    c.bob_url = str_at(d.get(), "download", "url");
    c.bob_ticket = str_at(d.get(), "download", "ticket");
    // The second upload's upload_done travels resd -> chatd on its own: wait until it is ready
    // too, or a test asking for its URL races it (seen: not_ready).
    ASSERT_TRUE(is_ok(wait_url(*c.carol, c.other)));
  }

  static void TearDownTestSuite() {
    if (!c_) return;
    EXPECT_EQ(c_->resd.terminate(), 0);
    EXPECT_EQ(c_->chatd.terminate(), 0);
    delete c_;
    c_ = nullptr;
  }

  // send_media (retried until resd has linked), not_ready before the upload, then the upload.
  static uint64_t send_and_upload(Chat& from, const std::string& to, const std::string& cid,
                                  const std::string& content, const std::string& name) {
    std::string req = R"({"op":"send_media","rid":2,"to":")" + to + R"(","cid":")" + cid +
                      R"(","kind":"file","name":")" + name + R"(","size":)" +
                      std::to_string(content.size()) +
                      R"(,"mime":"application/x-test","sha256":")" + hex_sha(content) + "\"}";
    ferry::proto::Json r;
    EXPECT_TRUE(wait_for([&] {
      r = from.rpc(req);
      return code_of(r) != "no_resource_server";
    }));
    EXPECT_TRUE(is_ok(r)) << (r ? ferry::proto::json_print(r.get()) : "no answer");
    uint64_t id = num_at(r.get(), "message", "id");
    std::string ticket = str_at(r.get(), "upload", "ticket");
    std::string resource = str_at(r.get(), "upload", "resource");
    ferry::proto::Json nr = from.rpc(download_req(id));
    EXPECT_EQ(code_of(nr), "not_ready");
    int port = std::stoi(resource.substr(resource.rfind(':') + 1));
    EXPECT_TRUE(upload(port, ticket, content));
    return id;
  }

  static std::string download_req(uint64_t id) {
    return R"({"op":"download_url","rid":3,"message_id":)" + std::to_string(id) + "}";
  }
  // download_url, polled until the message is ready (upload_done travels resd -> chatd).
  static ferry::proto::Json wait_url(Chat& who, uint64_t id) {
    ferry::proto::Json r;
    wait_for([&] {
      r = who.rpc(download_req(id));
      return code_of(r) != "not_ready";
    });
    return r;
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(c_->http_port); }
  std::string path(uint64_t id) const { return base() + "/m/" + std::to_string(id); }

  // curl -s -o out -D headers -w %{http_code} ARGS; returns the status code.
  int curl(std::vector<std::string> args, const std::string& out = "/dev/null",
           std::string* headers = nullptr) {
    std::string hfile = c_->dir.sub("curl-headers");
    std::vector<std::string> argv = {kCurl, "-s", "-o", out, "-D", hfile, "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = ferry::test::run(argv, 120000);
    if (headers) *headers = read_file(hfile);
    return r.out.empty() ? -1 : std::stoi(r.out);
  }

  // Someone else still downloads the whole file correctly.
  void expect_others_served() {
    std::string out = c_->dir.sub("check.bin");
    EXPECT_EQ(curl({c_->bob_url}, out), 200);
    EXPECT_EQ(hex_sha(read_file(out)), c_->sha);
  }

  std::string ticket_for(uint64_t message, int64_t expires_ms, const std::string& key,
                         const std::string& sha,
                         ferry::proto::TicketKind kind = ferry::proto::TicketKind::Download) {
    ferry::proto::TicketClaims t;
    t.kind = kind;
    t.user_id = 2;
    t.message_id = message;
    t.size = c_->file.size();
    t.sha256_hex = sha;
    t.expires_ms = expires_ms;
    t.name = "x.bin";
    t.mime = "application/x-test";
    return ferry::proto::ticket_sign(t, key);
  }
};

TEST_F(ResdHttpTest, both_parties_get_urls_and_a_third_user_does_not) {
  ferry::proto::Json a = c_->alice->rpc(download_req(c_->id));
  ASSERT_TRUE(is_ok(a));
  EXPECT_EQ(str_at(a.get(), "download", "url").rfind(path(c_->id) + "?t=", 0), 0u);
  EXPECT_EQ(str_at(a.get(), "download", "sha256"), c_->sha);
  EXPECT_EQ(str_at(a.get(), "download", "name"), "Ferien été \"2026\".bin");
  EXPECT_EQ(c_->bob_url, path(c_->id) + "?t=" + c_->bob_ticket);
  EXPECT_EQ(code_of(c_->carol->rpc(download_req(c_->id))), "unknown_message");
  EXPECT_EQ(code_of(c_->bob->rpc(download_req(c_->other))), "unknown_message");
  EXPECT_TRUE(is_ok(c_->carol->rpc(download_req(c_->other))));
}

TEST_F(ResdHttpTest, curl_fetches_identical_bytes_with_the_headers) {
  std::string out = c_->dir.sub("whole.bin"), headers;
  ASSERT_EQ(curl({c_->bob_url}, out, &headers), 200) << headers;
  EXPECT_EQ(read_file(out).size(), c_->file.size());
  EXPECT_EQ(hex_sha(read_file(out)), c_->sha);
  EXPECT_NE(headers.find("Content-Length: " + std::to_string(c_->file.size()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(headers.find("ETag: \"" + c_->sha + "\"\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Content-Type: application/x-test\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Content-Disposition: attachment; filename=\"Ferien _t_ _2026_.bin\"; "
                         "filename*=UTF-8''Ferien%20%C3%A9t%C3%A9%20%222026%22.bin\r\n"),
            std::string::npos)
      << headers;
  EXPECT_NE(headers.find("Accept-Ranges: bytes\r\n"), std::string::npos);
  // The same ticket in an Authorization header.
  std::string out2 = c_->dir.sub("bearer.bin");
  EXPECT_EQ(curl({"-H", "Authorization: Bearer " + c_->bob_ticket, path(c_->id)}, out2), 200);
  EXPECT_EQ(hex_sha(read_file(out2)), c_->sha);
}

TEST_F(ResdHttpTest, curl_resumes_a_partial_file) {
  std::string out = c_->dir.sub("partial.bin"), headers;
  write_file(out, std::string_view(c_->file).substr(0, 1234567));
  ASSERT_EQ(curl({"-C", "-", c_->bob_url}, out, &headers), 206) << headers;
  EXPECT_NE(headers.find("Content-Range: bytes 1234567-" + std::to_string(c_->file.size() - 1) +
                         "/" + std::to_string(c_->file.size())),
            std::string::npos)
      << headers;
  EXPECT_EQ(hex_sha(read_file(out)), c_->sha);
}

TEST_F(ResdHttpTest, head_range_and_unsatisfiable_range) {
  std::string headers;
  EXPECT_EQ(curl({"-I", c_->bob_url}, "/dev/null", &headers), 200);
  EXPECT_NE(headers.find("Content-Length: " + std::to_string(c_->file.size())), std::string::npos);
  std::string out = c_->dir.sub("range.bin");
  EXPECT_EQ(curl({"-r", "100000-199999", c_->bob_url}, out, &headers), 206);
  EXPECT_EQ(read_file(out), c_->file.substr(100000, 100000));
  EXPECT_EQ(curl({"-r", "-1000", c_->bob_url}, out), 206);
  EXPECT_EQ(read_file(out), c_->file.substr(c_->file.size() - 1000));
  EXPECT_EQ(curl({"-r", std::to_string(c_->file.size()) + "-", c_->bob_url}, out, &headers), 416);
  EXPECT_NE(headers.find("Content-Range: bytes */" + std::to_string(c_->file.size())),
            std::string::npos);
  EXPECT_EQ(curl({"-r", "0-9,20-29", c_->bob_url}, out), 200) << "multi-range: whole file";
  EXPECT_EQ(hex_sha(read_file(out)), c_->sha);
  EXPECT_EQ(curl({"-H", "If-Range: \"" + c_->sha + "\"", "-r", "5-9", c_->bob_url}, out), 206);
  EXPECT_EQ(curl({"-H", "If-Range: \"old\"", "-r", "5-9", c_->bob_url}, out), 200);
  expect_others_served();
}

TEST_F(ResdHttpTest, bad_tickets_are_refused) {
  std::string good = c_->bob_ticket;
  std::string tampered = good.substr(0, good.size() - 3) + (good.back() == 'A' ? "BBB" : "AAA");
  struct Case {
    std::string url;
    int status;
  };
  std::vector<Case> cases = {
      {path(c_->id), 401},
      {path(c_->id) + "?t=", 401},
      {path(c_->id) + "?t=garbage", 403},
      {path(c_->id) + "?t=" + tampered, 403},
      {path(c_->id) + "?t=" + ticket_for(c_->id, wall_ms() - 1000, c_->key, c_->sha), 403},
      {path(c_->id) + "?t=" + ticket_for(c_->id, wall_ms() + 60000, "forged key", c_->sha), 403},
      {path(c_->id) + "?t=" +
           ticket_for(c_->id, wall_ms() + 60000, c_->key, c_->sha,
                      ferry::proto::TicketKind::Upload),
       403},
      {path(c_->other) + "?t=" + good, 403},  // bob's ticket, another message's path
      {path(c_->id) + "?t=" + ticket_for(c_->id, wall_ms() + 60000, c_->key, std::string(64, '0')),
       404},  // verified, but no such stored content
  };
  for (const Case& c : cases) {
    std::string headers;
    EXPECT_EQ(curl({c.url}, "/dev/null", &headers), c.status) << c.url << "\n" << headers;
    expect_others_served();
  }
  // Ferry-Error tells an expired ticket (fetch a fresh URL) from a forged one.
  std::string headers;
  EXPECT_EQ(curl({cases[4].url}, "/dev/null", &headers), 403);
  EXPECT_NE(headers.find("Ferry-Error: ticket_expired\r\n"), std::string::npos) << headers;
  EXPECT_EQ(curl({cases[5].url}, "/dev/null", &headers), 403);
  EXPECT_NE(headers.find("Ferry-Error: ticket_forged\r\n"), std::string::npos) << headers;
  EXPECT_EQ(curl({cases[7].url}, "/dev/null", &headers), 403);
  EXPECT_NE(headers.find("Ferry-Error: ticket_other_message\r\n"), std::string::npos) << headers;
}

TEST_F(ResdHttpTest, malformed_requests_get_their_status_and_others_are_served) {
  std::string t = "?t=" + c_->bob_ticket;
  std::string id = std::to_string(c_->id);
  struct Case {
    std::string bytes;
    int status;
    bool closes;
  };
  std::vector<Case> cases = {
      {"garbage\r\n\r\n", 400, true},
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, true},
      {"GET /m/" + id + t + " HTTP/1.1\r\nBad Header\r\n\r\n", 400, true},
      {"GET /m/" + id + "?t=" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414, true},
      {"GET /m/" + id + t + " HTTP/1.1\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n", 431,
       true},
      {"GET /m/" + id + t + " HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, true},
      {"POST /m/" + id + t + " HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", 405,
       true},
      {"GET /m/0" + id + t + " HTTP/1.1\r\nConnection: close\r\n\r\n", 400, true},
      {"GET /m/../" + id + t + " HTTP/1.1\r\nConnection: close\r\n\r\n", 400, true},
      {"GET /m/" + id + "%2F.." + t + " HTTP/1.1\r\nConnection: close\r\n\r\n", 400, true},
      {"GET /m/" + id + "/x" + t + " HTTP/1.1\r\nConnection: close\r\n\r\n", 400, true},
      {"GET /files/" + c_->sha.substr(0, 2) + "/" + c_->sha +
           " HTTP/1.1\r\nConnection: close\r\n\r\n",
       400, true},
  };
  for (const Case& c : cases) {
    Tcp s(c_->http_port);
    ASSERT_TRUE(s.connected());
    s.send(c.bytes);
    std::string got;
    EXPECT_TRUE(s.read_to_eof(got)) << "the server closes: " << c.bytes.substr(0, 40);
    EXPECT_EQ(status_of(got), c.status) << c.bytes.substr(0, 60) << "\n" << got.substr(0, 300);
    expect_others_served();
  }
}

TEST_F(ResdHttpTest, pipelined_requests_answered_in_order_and_http10_closes) {
  Tcp s(c_->http_port);
  ASSERT_TRUE(s.connected());
  std::string target = "/m/" + std::to_string(c_->id) + "?t=" + c_->bob_ticket;
  s.send("GET " + target + " HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n" + "HEAD " + target +
         " HTTP/1.1\r\n\r\n" + "GET /nope HTTP/1.1\r\n\r\n" + "GET " + target +
         " HTTP/1.1\r\nRange: bytes=-5\r\n\r\n");
  std::string head, body;
  ASSERT_TRUE(s.read_response(head, body));
  EXPECT_EQ(status_of(head), 206);
  EXPECT_EQ(body, c_->file.substr(0, 10));
  ASSERT_TRUE(s.read_response(head, body, /*has_body=*/false));
  EXPECT_EQ(status_of(head), 200);
  ASSERT_TRUE(s.read_response(head, body));
  EXPECT_EQ(status_of(head), 400);
  ASSERT_TRUE(s.read_response(head, body));
  EXPECT_EQ(status_of(head), 206);
  EXPECT_EQ(body, c_->file.substr(c_->file.size() - 5));
  // Still open (keep-alive): one more request, then HTTP/1.0 without keep-alive closes.
  s.send("GET " + target + " HTTP/1.0\r\nRange: bytes=1-2\r\n\r\n");
  std::string rest;
  EXPECT_TRUE(s.read_to_eof(rest));
  EXPECT_EQ(status_of(rest), 206);
  EXPECT_NE(rest.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(rest.substr(rest.size() - 2), c_->file.substr(1, 2));
}

TEST_F(ResdHttpTest, a_client_that_half_closes_gets_its_answers) {
  Tcp s(c_->http_port);
  ASSERT_TRUE(s.connected());
  std::string target = "/m/" + std::to_string(c_->id) + "?t=" + c_->bob_ticket;
  s.send("GET " + target + " HTTP/1.1\r\nRange: bytes=0-99\r\n\r\nGET " + target +
         " HTTP/1.1\r\n\r\n");
  s.shut_wr();
  std::string all;
  ASSERT_TRUE(s.read_to_eof(all)) << "closed once both are answered";
  size_t second = all.find("HTTP/1.1 200 OK");
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(status_of(all), 206);
  std::string body = all.substr(all.find("\r\n\r\n", second) + 4);
  EXPECT_EQ(hex_sha(body), c_->sha);
}

TEST_F(ResdHttpTest, a_reader_that_never_reads_does_not_stop_others) {
  // Several connections ask for the whole file and never read: each holds the server's send
  // buffer, not its memory or its loop; everyone else is served meanwhile.
  std::vector<std::unique_ptr<Tcp>> stuck;
  std::string target = "/m/" + std::to_string(c_->id) + "?t=" + c_->bob_ticket;
  for (int i = 0; i < 4; i++) {
    stuck.push_back(std::make_unique<Tcp>(c_->http_port, 4096));
    ASSERT_TRUE(stuck.back()->connected());
    stuck.back()->send("GET " + target + " HTTP/1.1\r\n\r\n");
  }
  expect_others_served();
  expect_others_served();
  // Uploads go on meanwhile (they never share threads with downloads).
  std::string more = noise_bytes((2u << 20) + 7, 11);
  uint64_t id = send_and_upload(*c_->alice, "bob", "cid-http-3", more, "more.bin");
  ferry::proto::Json d = wait_url(*c_->bob, id);
  ASSERT_TRUE(is_ok(d));
  std::string out = c_->dir.sub("more.bin");
  EXPECT_EQ(curl({str_at(d.get(), "download", "url")}, out), 200);
  EXPECT_EQ(hex_sha(read_file(out)), hex_sha(more));
  // A stuck reader that starts reading gets the whole, correct file.
  std::string head, body;
  ASSERT_TRUE(stuck[0]->read_response(head, body));
  EXPECT_EQ(status_of(head), 200);
  EXPECT_EQ(hex_sha(body), c_->sha);
}

}  // namespace

namespace {

// The command line of the HTTP side: --help, bad values (exit 2), a taken port (exit 1), and
// --http-advertise reaching the download URLs through the chat link.
TEST(ResdHttpFlags, help_bad_values_taken_port_and_advertise) {
  RunResult help = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--http HOST:PORT"), std::string::npos);
  EXPECT_NE(help.out.find("--http-advertise HOST:PORT"), std::string::npos);
  TempDir dir;
  RunResult bad = ferry::test::run(
      {ferry::test::bin_path("ferry-resd"), "--data", dir.sub("r1"), "--http", "nope"});
  EXPECT_EQ(bad.status, 2) << bad.err;
  bad = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--data", dir.sub("r1"), "--listen",
                          "127.0.0.1:0", "--http", "127.0.0.1:99999"});
  EXPECT_EQ(bad.status, 2) << bad.err;

  // A port someone else listens on.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  RunResult taken =
      ferry::test::run({ferry::test::bin_path("ferry-resd"), "--data", dir.sub("r2"), "--listen",
                        "127.0.0.1:0", "--http", "127.0.0.1:" + std::to_string(ntohs(a.sin_port))});
  close(fd);
  EXPECT_EQ(taken.status, 1) << taken.err;
  EXPECT_NE(taken.err.find("--http"), std::string::npos) << taken.err;

  // --http-advertise (from a config file) is what chatd puts in download URLs.
  Process chatd, resd;
  std::string secret = dir.sub("secret.key");
  ASSERT_TRUE(
      chatd.start({ferry::test::bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                   dir.sub("chat"), "--secret-file", secret, "--kdf-iterations", "1000"}));
  write_file(dir.sub("resd.json"),
             R"({"http":"127.0.0.1:0","http_advertise":"files.example.org:8443"})");
  ASSERT_TRUE(resd.start({ferry::test::bin_path("ferry-resd"), "--listen", "127.0.0.1:0",
                          "--config", dir.sub("resd.json"), "--data", dir.sub("r3"),
                          "--secret-file", secret, "--chat", chatd.address()},
                         "http listening on "));
  Chat alice(chatd.port()), bob(chatd.port());
  ASSERT_TRUE(
      is_ok(alice.rpc(R"({"op":"register","rid":1,"user":"alice","password":"pw-12345678"})")));
  ASSERT_TRUE(is_ok(bob.rpc(R"({"op":"register","rid":1,"user":"bob","password":"pw-12345678"})")));
  std::string content = noise_bytes(1000, 3);
  ferry::proto::Json r;
  ASSERT_TRUE(wait_for([&] {
    r = alice.rpc(R"({"op":"send_media","rid":2,"to":"bob","cid":"cid-adv-1","kind":"file",)"
                  R"("name":"a.bin","size":1000,"mime":"application/x-test","sha256":")" +
                  hex_sha(content) + "\"}");
    return code_of(r) != "no_resource_server";
  }));
  ASSERT_TRUE(is_ok(r));
  uint64_t id = num_at(r.get(), "message", "id");
  std::string resource = str_at(r.get(), "upload", "resource");
  ASSERT_TRUE(upload(std::stoi(resource.substr(resource.rfind(':') + 1)),
                     str_at(r.get(), "upload", "ticket"), content));
  ferry::proto::Json d;
  ASSERT_TRUE(wait_for([&] {
    d = bob.rpc(R"({"op":"download_url","rid":3,"message_id":)" + std::to_string(id) + "}");
    return code_of(d) != "not_ready";
  }));
  ASSERT_TRUE(is_ok(d));
  EXPECT_EQ(str_at(d.get(), "download", "url")
                .rfind("http://files.example.org:8443/m/" + std::to_string(id) + "?t=", 0),
            0u);
  EXPECT_EQ(resd.terminate(), 0);
  EXPECT_EQ(chatd.terminate(), 0);
}

}  // namespace
