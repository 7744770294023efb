// What: the real ferry-resd binary over raw TCP. An 8 MiB file uploaded out of order with one
// corrupted chunk (re-sent after its NACK) ends UPLOAD_DONE ok and byte-identical under
// files/; every acked chunk survives kill -9; forged, expired and other-user tickets are
// refused; garbage cuts off only the guilty connection; a file too big for the disk gets
// disk_full while the server keeps serving; idle incomplete uploads expire; and a fake chat
// server speaking protocol.md §7 (HELLO with challenge, mac check, answers) receives
// upload_done — also when resd restarts between completion and notification.
// How: ferry::test::Process starts ferry-resd on 127.0.0.1:0 in a TempDir; tickets are
// signed with the key from the secret file resd created (proto::ticket_sign); blocking
// sockets with poll() timeouts, no sleeps except waiting for expiry.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "proto/frame.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "proto/ticket.h"
#include "proto/chunk_sum.h"
#include "proto/upload_frames.h"
#include "tests/support/process.h"
#include "tests/support/test_bytes.h"
#include "tests/support/raw_client.h"

namespace {

namespace fs = std::filesystem;
using ferry::proto::FrameType;
using ferry::proto::NackReason;
using ferry::proto::UploadStatus;
using ferry::test::peer_mac;
using ferry::test::Process;
using ferry::test::TempDir;
using ferry::test::noise_bytes;
using ferry::test::wall_ms;

constexpr uint32_t kChunk = 1u << 20;

ferry::proto::Sha256 sha(std::string_view d) {
  std::string h = ferry::proto::sha256(d);
  ferry::proto::Sha256 out;
  std::memcpy(out.data(), h.data(), out.size());
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using Frame = ferry::test::RawFrame;

// The shared raw socket (tests/support/raw_client.h) with this file's defaults.
class RawConn {
 public:
  explicit RawConn(int port) : sock_(port, 64u << 20) {}
  explicit RawConn(int fd, bool) : sock_(fd, 64u << 20, true) {}
  bool connected() const { return sock_.connected(); }
  bool closed() const { return sock_.closed(); }

  void send_raw(std::string_view bytes) { sock_.send_raw(bytes); }
  void send(FrameType t, std::string_view body) { sock_.send(t, body); }
  std::optional<Frame> recv(int timeout_ms = 15000) { return sock_.recv_frame(timeout_ms); }
  bool wait_closed(int timeout_ms = 10000) { return sock_.wait_closed(timeout_ms); }
  bool hello() {
    send(FrameType::Hello, R"({"proto":1,"agent":"resd_raw_test"})");
    auto f = recv();
    return f && f->type == FrameType::Hello;
  }

 private:
  ferry::test::RawSocket sock_;
};

// One upload over a RawConn: OPEN, CHUNKs, and the acks, NACKs and verdicts coming back.
struct Upload {
  RawConn& conn;
  uint32_t slot;
  const std::string& file;
  ferry::proto::UploadState state;
  std::set<uint64_t> acked;
  std::vector<ferry::proto::ChunkNack> nacks;
  std::optional<ferry::proto::UploadDone> done;

  bool open(const std::string& ticket) {
    std::string f;
    ferry::proto::encode_upload_open(f, {slot, ticket});
    conn.send_raw(f);
    while (auto fr = conn.recv()) {
      if (fr->type != FrameType::UploadState) continue;
      std::string err;
      if (!ferry::proto::decode_upload_state(fr->body, state, err)) return false;
      if (state.slot != slot) continue;
      for (auto r : state.held) {
        for (uint64_t i = r.start; i < r.end; i++) acked.insert(i);
      }
      return true;
    }
    return false;
  }
  std::string_view piece(uint64_t i) const {
    return std::string_view(file).substr(i * state.chunk_size, state.chunk_size);
  }
  void send(uint64_t i, bool corrupt = false) {
    std::string payload(piece(i));
    ferry::proto::ChunkSum h = ferry::proto::chunk_sum(payload.data(), payload.size());
    if (corrupt) payload[payload.size() / 2] ^= 0x5a;
    std::string f;
    ferry::proto::encode_chunk(f, slot, i, h, payload);
    conn.send_raw(f);
  }
  // Reads frames until `until` holds (true) or the connection stalls (false).
  template <typename Pred>
  bool pump(Pred until) {
    while (!until()) {
      auto fr = conn.recv();
      if (!fr) return false;
      std::string err;
      if (fr->type == FrameType::ChunkAck) {
        ferry::proto::ChunkAck a;
        if (!ferry::proto::decode_chunk_ack(fr->body, a, err) || a.slot != slot) continue;
        for (uint64_t i = 0; i < a.cumulative; i++) acked.insert(i);
        for (auto r : a.selective) {
          for (uint64_t i = r.start; i < r.end; i++) acked.insert(i);
        }
        for (auto n : a.nacks) nacks.push_back(n);
      } else if (fr->type == FrameType::UploadDone) {
        ferry::proto::UploadDone d;
        if (ferry::proto::decode_upload_done(fr->body, d, err) && d.slot == slot) done = d;
      }
    }
    return true;
  }
  bool all_acked() const { return acked.size() == state.total_chunks; }
};

// A fake ferry-chatd for the §7 link: listens, authenticates resd, records its requests.
class FakeChat {
 public:
  FakeChat() {
    lfd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(lfd_, 8);
    socklen_t len = sizeof a;
    getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~FakeChat() { close(lfd_); }
  int port() const { return port_; }

  // Accepts resd's connection and runs the handshake; checks the mac against `key`.
  std::unique_ptr<RawConn> accept_peer(const std::string& key, std::string* advertise,
                                       int timeout_ms = 20000) {
    pollfd p{lfd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return nullptr;
    int fd = ::accept(lfd_, nullptr, nullptr);
    if (fd < 0) return nullptr;
    auto c = std::make_unique<RawConn>(fd, true);
    auto hello = c->recv();
    if (!hello || hello->type != FrameType::Hello) return nullptr;
    std::string challenge = ferry::proto::random_hex(32);
    c->send(FrameType::Hello, R"({"proto":1,"server":"fake-chatd","max_frame":1048576,)"
                              R"("heartbeat_ms":10000,"idle_timeout_ms":30000,"challenge":")" +
                                  challenge + "\"}");
    auto auth = c->recv();
    if (!auth || auth->type != FrameType::Request) return nullptr;
    ferry::proto::Json j = ferry::proto::json_parse(auth->body);
    std::string err, op, mac;
    uint64_t rid = 0;
    if (!j || !ferry::proto::json_get_string(j.get(), "op", op, err) || op != "peer_auth" ||
        !ferry::proto::json_get_u64(j.get(), "rid", rid, err) ||
        !ferry::proto::json_get_string(j.get(), "mac", mac, err)) {
      return nullptr;
    }
    if (advertise) ferry::proto::json_get_string(j.get(), "advertise", *advertise, err);
    if (mac != peer_mac(key, challenge)) {
      c->send(FrameType::Response,
              R"({"rid":)" + std::to_string(rid) +
                  R"(,"ok":false,"error":{"code":"auth_failed","message":"x"}})");
      return nullptr;
    }
    c->send(FrameType::Response, R"({"rid":)" + std::to_string(rid) + R"(,"ok":true})");
    return c;
  }

 private:
  int lfd_ = -1;
  int port_ = 0;
};

// Waits on the link for an upload_done of `message_id`; answers it if `answer`.
bool expect_upload_done(RawConn& link, uint64_t message_id, uint64_t size, const std::string& hex,
                        bool answer, int* progress_seen = nullptr) {
  while (auto f = link.recv(20000)) {
    if (f->type == FrameType::Ping) {
      link.send(FrameType::Pong, f->body);
      continue;
    }
    if (f->type != FrameType::Request) continue;
    ferry::proto::Json j = ferry::proto::json_parse(f->body);
    std::string err, op, got_hex;
    uint64_t rid = 0, id = 0, got_size = 0;
    ferry::proto::json_get_string(j.get(), "op", op, err);
    ferry::proto::json_get_u64(j.get(), "rid", rid, err);
    if (op == "upload_progress") {
      if (progress_seen) ++*progress_seen;
      link.send(FrameType::Response, R"({"rid":)" + std::to_string(rid) + R"(,"ok":true})");
      continue;
    }
    if (op != "upload_done") continue;
    ferry::proto::json_get_u64(j.get(), "message_id", id, err);
    ferry::proto::json_get_u64(j.get(), "size", got_size, err);
    ferry::proto::json_get_string(j.get(), "sha256", got_hex, err);
    if (id != message_id) continue;
    EXPECT_EQ(got_size, size);
    EXPECT_EQ(got_hex, hex);
    if (answer) {
      link.send(FrameType::Response,
                R"({"rid":)" + std::to_string(rid) + R"(,"ok":true,"status":"ready"})");
    }
    return true;
  }
  return false;
}

class ResdRawTest : public ::testing::Test {
 protected:
  bool start(Process& p, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {ferry::test::bin_path("ferry-resd"), "--listen", "127.0.0.1:0",
                                     "--data", dir_.sub("data")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!p.start(argv)) return false;
    std::string err;
    return ferry::proto::load_or_create_secret(dir_.sub("data") + "/secret.key", key_, err);
  }
  std::string ticket(uint64_t user, uint64_t message, const std::string& file,
                     int64_t expires_ms = 0, const std::string* key = nullptr) {
    ferry::proto::TicketClaims c;
    c.user_id = user;
    c.message_id = message;
    c.size = file.size();
    c.sha256_hex = ferry::proto::hex_encode(ferry::proto::sha256(file));
    c.expires_ms = expires_ms ? expires_ms : wall_ms() + 3600000;
    return ferry::proto::ticket_sign(c, key ? *key : key_);
  }
  // "Hash later": the same ticket without the hash (claim h empty).
  std::string unbound_ticket(uint64_t user, uint64_t message, uint64_t size) {
    ferry::proto::TicketClaims c;
    c.user_id = user;
    c.message_id = message;
    c.size = size;
    c.expires_ms = wall_ms() + 3600000;
    return ferry::proto::ticket_sign(c, key_);
  }
  std::string final_path(const std::string& file) {
    std::string h = ferry::proto::hex_encode(ferry::proto::sha256(file));
    return dir_.sub("data") + "/files/" + h.substr(0, 2) + "/" + h;
  }
  size_t count(const std::string& sub) {
    std::error_code ec;
    size_t n = 0;
    for (auto it = fs::directory_iterator(dir_.sub("data") + "/" + sub, ec);
         !ec && it != fs::directory_iterator(); ++it) {
      n++;
    }
    return n;
  }
  TempDir dir_;
  std::string key_;
};

TEST_F(ResdRawTest, out_of_order_upload_with_a_corrupt_chunk_is_stored_byte_identical) {
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(8 * kChunk, 1);
  Upload u{c, 5, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 101, file)));
  ASSERT_EQ(u.state.status, UploadStatus::Ok);
  ASSERT_EQ(u.state.chunk_size, kChunk);
  ASSERT_EQ(u.state.total_chunks, 8u);
  EXPECT_TRUE(u.state.held.empty());
  for (uint64_t i : {5, 2, 7, 0, 3, 6, 1, 4}) u.send(i, /*corrupt=*/i == 3);
  ASSERT_TRUE(u.pump([&] { return u.acked.size() == 7 && !u.nacks.empty(); }));
  ASSERT_EQ(u.nacks.size(), 1u);
  EXPECT_EQ(u.nacks[0].index, 3u);
  EXPECT_EQ(u.nacks[0].reason, NackReason::BadHash);
  EXPECT_FALSE(u.acked.count(3));
  u.send(3);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  EXPECT_TRUE(u.all_acked());
  EXPECT_EQ(u.done->status, UploadStatus::Ok);
  EXPECT_EQ(u.done->file_size, file.size());
  EXPECT_EQ(u.done->file_hash, sha(file));
  EXPECT_TRUE(read_file(final_path(file)) == file);
  EXPECT_EQ(count("partial"), 0u);
  EXPECT_TRUE(fs::exists(dir_.sub("data") + "/done/101.json"));

  // OPEN again on a new connection: finished, so STATE (all held) and DONE ok at once.
  RawConn c2(resd.port());
  ASSERT_TRUE(c2.hello());
  Upload again{c2, 1, file, {}, {}, {}, {}};
  ASSERT_TRUE(again.open(ticket(7, 101, file)));
  EXPECT_EQ(again.state.status, UploadStatus::Ok);
  EXPECT_TRUE(again.all_acked());
  ASSERT_TRUE(again.pump([&] { return again.done.has_value(); }));
  EXPECT_EQ(again.done->status, UploadStatus::Ok);
  EXPECT_EQ(resd.terminate(), 0);
}

// Bytes this process read through read()/pread() so far (sockets included), from
// /proc/PID/io.
uint64_t bytes_read_by(pid_t pid) {
  std::string io = read_file("/proc/" + std::to_string(pid) + "/io");
  size_t at = io.find("rchar:");
  return at == std::string::npos ? 0 : std::stoull(io.substr(at + 6));
}

// Chunks that arrive ahead of the hashed prefix are hashed from memory once the prefix
// reaches them, not read back from the file: in reverse order resd reads the upload's bytes
// once (from the socket), where reading back would add seven of the eight chunks.
TEST_F(ResdRawTest, chunks_written_ahead_are_hashed_without_reading_them_back) {
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(8 * kChunk, 9);
  Upload u{c, 4, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 404, file)));
  uint64_t before = bytes_read_by(resd.pid());
  for (uint64_t i = 8; i-- > 0;) u.send(i);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  uint64_t read = bytes_read_by(resd.pid()) - before;
  EXPECT_EQ(u.done->status, UploadStatus::Ok);
  EXPECT_TRUE(read_file(final_path(file)) == file);
  EXPECT_GE(read, file.size()) << "the frames themselves";
  EXPECT_LT(read, file.size() + kChunk) << "chunks read back from the disk";
  EXPECT_EQ(resd.terminate(), 0);
}

// Chunks go to disk with O_DIRECT from the aligned payload buffer (no page-cache copy) where
// the file system takes it: while the upload is open, resd holds its partial file open with
// O_DIRECT (fdinfo flags), and the bytes, the unaligned tail included, arrive intact.
TEST_F(ResdRawTest, chunks_are_written_with_o_direct_where_the_file_system_allows) {
  std::string probe = dir_.sub("probe");
  int pfd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (pfd < 0) GTEST_SKIP() << "the temp dir's file system refuses O_DIRECT";
  ::close(pfd);
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(3 * kChunk + 1234, 3);
  Upload u{c, 2, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 303, file)));
  u.send(0);
  ASSERT_TRUE(u.pump([&] { return u.acked.count(0) == 1; }));
  int direct_fds = 0;
  std::string fd_dir = "/proc/" + std::to_string(resd.pid()) + "/fd";
  for (const auto& e : fs::directory_iterator(fd_dir)) {
    std::error_code ec;
    std::string target = fs::read_symlink(e.path(), ec).string();
    if (ec || target.find("/partial/303.data") == std::string::npos) continue;
    std::string info = read_file("/proc/" + std::to_string(resd.pid()) + "/fdinfo/" +
                                 e.path().filename().string());
    size_t at = info.find("flags:");
    ASSERT_NE(at, std::string::npos);
    unsigned long flags = std::stoul(info.substr(at + 6), nullptr, 8);
    direct_fds += (flags & O_DIRECT) != 0;
  }
  EXPECT_EQ(direct_fds, 1);
  for (uint64_t i = 1; i < u.state.total_chunks; i++) u.send(i);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  EXPECT_EQ(u.done->status, UploadStatus::Ok);
  EXPECT_TRUE(read_file(final_path(file)) == file);
  EXPECT_EQ(resd.terminate(), 0);
}

// Hash later, through a real process: chunks sent under an unbound ticket survive kill -9
// (its meta has no hash), the restarted server keeps waiting for the hash with every chunk
// acked, and the bound ticket makes it verify and store the file.
TEST_F(ResdRawTest, unbound_upload_survives_kill9_and_finishes_once_bound) {
  std::string file = noise_bytes(6 * kChunk + 99, 404);
  std::set<uint64_t> acked_before;
  {
    Process resd;
    ASSERT_TRUE(start(resd));
    RawConn c(resd.port());
    ASSERT_TRUE(c.hello());
    Upload u{c, 1, file, {}, {}, {}, {}};
    ASSERT_TRUE(u.open(unbound_ticket(7, 404, file.size())));
    ASSERT_EQ(u.state.status, UploadStatus::Ok);
    for (uint64_t i : {5, 0, 2, 6}) u.send(i);
    ASSERT_TRUE(u.pump([&] { return u.acked.size() >= 4; }));
    acked_before = u.acked;
    resd.kill9();
  }
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  Upload u{c, 2, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(unbound_ticket(7, 404, file.size())));
  ASSERT_EQ(u.state.status, UploadStatus::Ok);
  for (uint64_t i : acked_before) EXPECT_TRUE(u.acked.count(i)) << "acked chunk " << i << " lost";
  for (uint64_t i = 0; i < u.state.total_chunks; i++) {
    if (!u.acked.count(i)) u.send(i);
  }
  ASSERT_TRUE(u.pump([&] { return u.all_acked(); }));
  EXPECT_FALSE(u.done.has_value());
  EXPECT_FALSE(fs::exists(final_path(file))) << "nothing is stored before the hash is bound";
  Upload bound{c, 3, file, {}, {}, {}, {}};
  ASSERT_TRUE(bound.open(ticket(7, 404, file)));
  EXPECT_EQ(bound.state.status, UploadStatus::Ok);
  EXPECT_TRUE(bound.all_acked());
  ASSERT_TRUE(bound.pump([&] { return bound.done.has_value(); }));
  EXPECT_EQ(bound.done->status, UploadStatus::Ok);
  EXPECT_EQ(bound.done->file_hash, sha(file));
  EXPECT_TRUE(read_file(final_path(file)) == file);
  EXPECT_EQ(count("partial"), 0u);
  EXPECT_EQ(resd.terminate(), 0);
}

// In both durability modes (--sync normal acks from the page cache, full after fdatasync).
TEST_F(ResdRawTest, acked_chunks_survive_kill9_and_the_upload_completes_after_restart) {
  uint64_t message = 202;
  for (std::string mode : {"normal", "full"}) {
    SCOPED_TRACE("--sync " + mode);
    std::string file = noise_bytes(8 * kChunk + 777, message);
    std::set<uint64_t> acked_before;
    {
      Process resd;
      ASSERT_TRUE(start(resd, {"--sync", mode}));
      RawConn c(resd.port());
      ASSERT_TRUE(c.hello());
      Upload u{c, 1, file, {}, {}, {}, {}};
      ASSERT_TRUE(u.open(ticket(7, message, file)));
      for (uint64_t i : {8, 1, 6, 0, 3}) u.send(i);
      ASSERT_TRUE(u.pump([&] { return u.acked.size() >= 3; }));
      acked_before = u.acked;
      resd.kill9();
    }
    Process resd;
    ASSERT_TRUE(start(resd, {"--sync", mode}));
    RawConn c(resd.port());
    ASSERT_TRUE(c.hello());
    Upload u{c, 9, file, {}, {}, {}, {}};
    ASSERT_TRUE(u.open(ticket(7, message, file)));
    ASSERT_EQ(u.state.status, UploadStatus::Ok);
    for (uint64_t i : acked_before) {
      EXPECT_TRUE(u.acked.count(i)) << "acked chunk " << i << " lost";
    }
    for (uint64_t i = 0; i < u.state.total_chunks; i++) {
      if (!u.acked.count(i)) u.send(i);
    }
    ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
    EXPECT_EQ(u.done->status, UploadStatus::Ok);
    EXPECT_TRUE(read_file(final_path(file)) == file);
    EXPECT_EQ(resd.terminate(), 0);
    message++;
  }
}

TEST_F(ResdRawTest, forged_expired_and_other_user_tickets_are_refused) {
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(1000, 3);
  std::string other_key(32, 'k');
  Upload forged{c, 1, file, {}, {}, {}, {}};
  ASSERT_TRUE(forged.open(ticket(7, 303, file, 0, &other_key)));
  EXPECT_EQ(forged.state.status, UploadStatus::BadTicket);
  Upload expired{c, 2, file, {}, {}, {}, {}};
  ASSERT_TRUE(expired.open(ticket(7, 303, file, wall_ms() - 1000)));
  EXPECT_EQ(expired.state.status, UploadStatus::TicketExpired);
  Upload mine{c, 3, file, {}, {}, {}, {}};
  ASSERT_TRUE(mine.open(ticket(7, 303, file)));
  EXPECT_EQ(mine.state.status, UploadStatus::Ok);
  Upload theirs{c, 4, file, {}, {}, {}, {}};
  ASSERT_TRUE(theirs.open(ticket(8, 303, file)));
  EXPECT_EQ(theirs.state.status, UploadStatus::BadTicket);
  // A chunk for a slot never opened.
  Upload ghost{c, 77, file, {}, {}, {}, {}};
  ghost.state.chunk_size = kChunk;
  ghost.send(0);
  ASSERT_TRUE(ghost.pump([&] { return !ghost.nacks.empty(); }));
  EXPECT_EQ(ghost.nacks[0].reason, NackReason::UnknownSlot);
  EXPECT_FALSE(c.closed());
}

TEST_F(ResdRawTest, garbage_closes_only_the_guilty_connection) {
  Process resd;
  ASSERT_TRUE(start(resd));
  RawConn good(resd.port());
  ASSERT_TRUE(good.hello());
  std::string file = noise_bytes(4 * kChunk, 4);
  Upload u{good, 1, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 404, file)));
  u.send(0);
  u.send(1);

  RawConn junk(resd.port());
  ASSERT_TRUE(junk.hello());
  junk.send(FrameType::Chunk, "not a chunk");  // shorter than the CHUNK prefix
  auto e = junk.recv();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, FrameType::Error);
  EXPECT_NE(e->body.find("bad_frame"), std::string::npos);
  EXPECT_NE(e->body.find("\"fatal\":true"), std::string::npos);
  EXPECT_TRUE(junk.wait_closed());
  RawConn junk2(resd.port());
  junk2.send_raw(std::string("\x00\x00\x00\x04\xee\x01\x02\x03\x04", 9));
  auto e2 = junk2.recv();
  ASSERT_TRUE(e2);
  EXPECT_NE(e2->body.find("bad_frame_type"), std::string::npos);
  EXPECT_TRUE(junk2.wait_closed());

  u.send(2);
  u.send(3);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  EXPECT_EQ(u.done->status, UploadStatus::Ok);
}

TEST_F(ResdRawTest, file_larger_than_the_disk_gets_disk_full_and_others_continue) {
  Process resd;
  ASSERT_TRUE(start(resd, {"--max-file-size", "9007199254740991"}));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  // A ticket for a 2^52-byte file: more than this disk holds, refused by the free-space
  // check before anything is allocated.
  ferry::proto::TicketClaims claims;
  claims.user_id = 7;
  claims.message_id = 505;
  claims.size = 1ull << 52;
  claims.sha256_hex = std::string(64, 'a');
  claims.expires_ms = wall_ms() + 60000;
  std::string open;
  ferry::proto::encode_upload_open(open, {1, ferry::proto::ticket_sign(claims, key_)});
  c.send_raw(open);
  auto f = c.recv();
  ASSERT_TRUE(f);
  ferry::proto::UploadState s;
  std::string err;
  ASSERT_TRUE(ferry::proto::decode_upload_state(f->body, s, err)) << err;
  EXPECT_EQ(s.status, UploadStatus::DiskFull);
  EXPECT_EQ(count("partial"), 0u);
  std::string file = noise_bytes(kChunk + 1, 5);
  Upload u{c, 2, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 506, file)));
  u.send(0);
  u.send(1);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  EXPECT_EQ(u.done->status, UploadStatus::Ok);
}

TEST_F(ResdRawTest, idle_incomplete_upload_expires_and_its_space_is_freed) {
  Process resd;
  ASSERT_TRUE(start(resd, {"--upload-ttl", "1"}));
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(2 * kChunk, 6);
  Upload u{c, 1, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 606, file)));
  u.send(0);
  ASSERT_TRUE(u.pump([&] { return u.acked.size() == 1; }));
  EXPECT_GT(count("partial"), 0u);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  EXPECT_EQ(u.done->status, UploadStatus::Expired);
  for (int i = 0; i < 100 && count("partial") > 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(count("partial"), 0u);
}

TEST_F(ResdRawTest, chat_link_authenticates_and_receives_upload_done) {
  FakeChat chat;
  Process resd;
  ASSERT_TRUE(start(resd, {"--chat", "127.0.0.1:" + std::to_string(chat.port())}));
  std::string advertise;
  auto link = chat.accept_peer(key_, &advertise);
  ASSERT_TRUE(link);
  EXPECT_EQ(advertise, resd.address());
  RawConn c(resd.port());
  ASSERT_TRUE(c.hello());
  std::string file = noise_bytes(3 * kChunk, 7);
  Upload u{c, 1, file, {}, {}, {}, {}};
  ASSERT_TRUE(u.open(ticket(7, 707, file)));
  for (uint64_t i = 0; i < 3; i++) u.send(i);
  ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
  int progress = 0;
  ASSERT_TRUE(expect_upload_done(*link, 707, file.size(),
                                 ferry::proto::hex_encode(ferry::proto::sha256(file)), true,
                                 &progress));
  EXPECT_GE(progress, 1);
  for (int i = 0; i < 100 && count("notify") > 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(count("notify"), 0u);  // answered: the outbox record is gone
  EXPECT_EQ(resd.terminate(), 0);
}

TEST_F(ResdRawTest, upload_done_survives_restarts_until_chat_answers) {
  FakeChat chat;
  std::string chat_flag = "127.0.0.1:" + std::to_string(chat.port());
  std::string file = noise_bytes(kChunk + 5, 8);
  std::string hex = ferry::proto::hex_encode(ferry::proto::sha256(file));
  {
    // Finished while no chat server is configured: only the durable outbox knows.
    Process resd;
    ASSERT_TRUE(start(resd));
    RawConn c(resd.port());
    ASSERT_TRUE(c.hello());
    Upload u{c, 1, file, {}, {}, {}, {}};
    ASSERT_TRUE(u.open(ticket(7, 808, file)));
    u.send(0);
    u.send(1);
    ASSERT_TRUE(u.pump([&] { return u.done.has_value(); }));
    EXPECT_EQ(count("notify"), 1u);
    resd.kill9();
  }
  {
    // Linked, but killed before chatd answers.
    Process resd;
    ASSERT_TRUE(start(resd, {"--chat", chat_flag}));
    auto link = chat.accept_peer(key_, nullptr);
    ASSERT_TRUE(link);
    ASSERT_TRUE(expect_upload_done(*link, 808, file.size(), hex, false));
    resd.kill9();
  }
  Process resd;
  ASSERT_TRUE(start(resd, {"--chat", chat_flag}));
  auto link = chat.accept_peer(key_, nullptr);
  ASSERT_TRUE(link);
  ASSERT_TRUE(expect_upload_done(*link, 808, file.size(), hex, true));
  for (int i = 0; i < 100 && count("notify") > 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(count("notify"), 0u);
}

TEST_F(ResdRawTest, chat_link_reconnects_after_the_chat_server_drops_it) {
  FakeChat chat;
  Process resd;
  ASSERT_TRUE(start(resd, {"--chat", "127.0.0.1:" + std::to_string(chat.port())}));
  auto link = chat.accept_peer(key_, nullptr);
  ASSERT_TRUE(link);
  link.reset();  // chatd "restarts"
  auto again = chat.accept_peer(key_, nullptr);
  ASSERT_TRUE(again);
}

TEST_F(ResdRawTest, help_and_bad_flags) {
  auto r = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--listen", "--data", "--config", "--secret-file", "--chat",
                           "--advertise", "--workers", "--upload-ttl", "--sync"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  auto bad = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--workers", "0"});
  EXPECT_EQ(bad.status, 2);
  auto bad_sync = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--sync", "sometimes"});
  EXPECT_EQ(bad_sync.status, 2);
  EXPECT_NE(bad_sync.err.find("sync must be 'normal' or 'full'"), std::string::npos)
      << bad_sync.err;
  auto unknown = ferry::test::run({ferry::test::bin_path("ferry-resd"), "--bogus", "1"});
  EXPECT_EQ(unknown.status, 2);
}

TEST_F(ResdRawTest, config_file_with_flags_overriding) {
  std::string cfg = dir_.sub("resd.json");
  std::ofstream(cfg) << R"({"listen":"127.0.0.1:1","workers":3,"upload_ttl":100})";
  Process resd;
  ASSERT_TRUE(start(resd, {"--config", cfg}));  // --listen 127.0.0.1:0 from start() wins
  EXPECT_NE(resd.port(), 1);
  EXPECT_EQ(resd.terminate(), 0);
}

}  // namespace
