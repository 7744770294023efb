// Proves the SDK's media-upload lifecycle (UploadManager inside ClientCore): announce ->
// ticket -> OPEN -> UPLOAD_STATE with held chunks -> only the missing chunks are read and
// sent -> acks -> UPLOAD_DONE -> READY from the chat server's push; instant send; ticket
// expiry -> upload_ticket -> OPEN again; disk_full retried with backoff (reported, never
// failed); corrupt -> FAILED; cancel -> cancel_upload -> CANCELLED; a restart from the state
// store announces the same cid again and resumes; a changed source file fails the message and
// cancels it on the server; a cut resource connection reconnects and re-OPENs.
//
// How: a ClientCore with a fake store and fake clock; the test plays both servers with the
// real codecs (JSON chat frames, binary upload frames) and plays the adapter (prepare jobs,
// chunk reads). No sockets, no files, no sleeps.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "proto/frame.h"
#include "proto/json.h"
#include "proto/upload_frames.h"
#include "sdk/core/client_core.h"
#include "sdk/include/ferry.h"
#include "tests/unit/sdk_fake_store.h"

namespace ferry::sdk {
namespace {

using proto::FrameType;
const std::string kSha(64, 'a');  // hex of 32 bytes 0xaa
constexpr uint64_t kMiB = 1u << 20;

struct Req {
  std::string op;
  uint64_t rid = 0;
  proto::Json j;
  uint64_t num(const char* k) const {
    const cJSON* f = cJSON_GetObjectItemCaseSensitive(j.get(), k);
    return cJSON_IsNumber(f) ? static_cast<uint64_t>(f->valuedouble) : UINT64_MAX;
  }
  std::string str(const char* k) const {
    const cJSON* f = cJSON_GetObjectItemCaseSensitive(j.get(), k);
    return cJSON_IsString(f) ? f->valuestring : "";
  }
};

std::string media_msg(uint64_t id, const std::string& cid, const std::string& status,
                      uint64_t size) {
  return R"({"id":)" + std::to_string(id) + R"(,"cid":")" + cid +
         R"(","from":"alice","to":"bob","kind":"file","ts":1,"status":")" + status +
         R"(","media":{"name":"f.bin","size":)" + std::to_string(size) + R"(,"mime":"x/y",)" +
         R"("sha256":")" + kSha + R"("},"progress":0})";
}

// The same message as the chat server stores it for a file sent "hash later" (no hash yet).
std::string unhashed_msg(uint64_t id, const std::string& cid, const std::string& status,
                         uint64_t size) {
  std::string m = media_msg(id, cid, status, size);
  return m.replace(m.find(kSha), kSha.size(), "");
}

std::string grant(const std::string& ticket) {
  return R"("upload":{"ticket":")" + ticket + R"(","resource":"127.0.0.1:7421","expires_ms":9})";
}

class Media : public ::testing::Test {
 protected:
  Media() { store.session_ = Session{"alice", 1, "tok"}; }

  // receive = false: no sync round trip. With receive = true the caller answers the sync
  // (chat_connect returns it; sync_with answers it).
  void make_core(bool receive = false) {
    CoreConfig cfg;
    cfg.receive = receive;
    core = std::make_unique<ClientCore>(cfg, store, [] { return 0x80000000u; });
    core->start(now);
    ASSERT_TRUE(core->poll_connect());
    chat_dec = proto::FrameDecoder(1u << 20);
    sync_req = chat_connect(receive);
  }
  // Dials the chat server (the core asked for it), HELLO, auth; returns the sync request.
  Req chat_connect(bool receive) {
    core->on_connected(now);
    std::vector<Req> auth = chat_sent();  // the auth rides with the HELLO
    feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
    for (Req& r : chat_sent()) auth.push_back(std::move(r));
    EXPECT_GE(auth.size(), 1u);
    if (auth.empty()) return {};
    EXPECT_EQ(auth[0].op, "auth");
    // Requests of uploads the store held ride behind the auth; chat_sent() returns them next.
    chat_pending.assign(std::make_move_iterator(auth.begin() + 1),
                        std::make_move_iterator(auth.end()));
    respond(auth[0].rid, R"("user_id":1,"user":"alice")" + auth_extra);
    if (!receive) return {};
    Req sync = one_request("sync");
    sync_since = sync.num("since");
    return sync;
  }
  void sync_with(const Req& sync, const std::vector<std::string>& msgs) {
    std::string list;
    for (const std::string& m : msgs) list += (list.empty() ? "" : ",") + m;
    respond(sync.rid, R"("messages":[)" + list + R"(],"more":false)");
  }
  std::vector<Event> new_messages(const std::vector<Event>& evs) {
    std::vector<Event> out;
    for (const Event& e : evs) {
      if (e.type == FERRY_EVENT_MESSAGE) out.push_back(e);
    }
    return out;
  }
  UploadManager& m() { return core->uploads(); }

  // --- chat server ---
  std::vector<Req> chat_sent() {
    std::string bytes = core->poll_send();
    chat_dec.feed(bytes.data(), bytes.size());
    std::vector<Req> out = std::move(chat_pending);
    chat_pending.clear();
    proto::Frame f;
    while (chat_dec.next(f) == proto::DecodeStatus::Ready) {
      if (f.type != FrameType::Request) continue;
      Req r;
      r.j = proto::json_parse(f.body);
      r.op = Req{"", 0, proto::json_parse(f.body)}.str("op");
      r.rid = r.num("rid");
      out.push_back(std::move(r));
    }
    return out;
  }
  Req one_request(const std::string& op) {
    std::vector<Req> r = chat_sent();
    EXPECT_EQ(r.size(), 1u);
    if (r.empty()) return {};
    EXPECT_EQ(r[0].op, op);
    return std::move(r[0]);
  }
  void feed_chat(FrameType t, const std::string& body) {
    std::string bytes;
    proto::encode_frame(bytes, t, body);
    core->on_bytes(bytes.data(), bytes.size(), now);
  }
  void respond(uint64_t rid, const std::string& fields) {
    feed_chat(FrameType::Response,
              R"({"rid":)" + std::to_string(rid) + R"(,"ok":true,)" + fields + "}");
  }
  void respond_error(uint64_t rid, const std::string& code) {
    feed_chat(FrameType::Response, R"({"rid":)" + std::to_string(rid) +
                                       R"(,"ok":false,"error":{"code":")" + code + R"("}})");
  }
  void push_status(uint64_t id, const std::string& status) {
    feed_chat(FrameType::Push, R"({"event":"status","message_id":)" + std::to_string(id) +
                                   R"(,"status":")" + status + R"(","from":"alice","to":"bob"})");
  }

  // An upload an earlier run (or another client of the state directory) left in the store:
  // probed, announced as message `id`, hashed unless `sha256` is empty.
  PendingUpload stored_upload(const std::string& cid, uint64_t size, uint64_t id,
                              const std::string& sha256 = kSha) {
    PendingUpload u;
    u.cid = cid;
    u.to = "bob";
    u.path = "/f.bin";
    u.name = "f.bin";
    u.kind = FERRY_KIND_FILE;
    u.size = size;
    u.sha256 = sha256;
    u.mime = "x/y";
    u.message_id = id;
    return u;
  }

  // A new core whose store holds a prepared upload `cid` of 2 MiB, not yet announced, and a
  // session; connected to the chat server, nothing answered yet. Returns what it sent first.
  std::vector<Req> connect_with_stored_upload(const std::string& cid) {
    store.upload_put(stored_upload(cid, 2 * kMiB, 0));
    CoreConfig cfg;
    cfg.receive = false;  // no sync request to step over
    core = std::make_unique<ClientCore>(cfg, store, [] { return 0x80000000u; });
    core->start(now);
    EXPECT_TRUE(core->poll_connect());
    core->on_connected(now);
    return chat_sent();
  }

  // --- adapter: files ---
  std::string submit(uint64_t size) {
    PendingUpload u;
    u.cid = "cid" + std::to_string(++n_);
    u.to = "bob";
    u.path = "/f.bin";
    u.name = "f.bin";
    u.size = size;
    store.upload_put(u);
    core->submit_upload(u, now);
    return u.cid;
  }
  void prepare() {
    std::optional<PrepareJob> job = m().poll_prepare();
    ASSERT_TRUE(job);
    PrepareResult r;
    r.sha256 = kSha;
    r.mime = "x/y";
    r.kind = FERRY_KIND_FILE;
    m().on_prepared(job->cid, r, now);
    core->pump_uploads(now);
  }
  // Reads every chunk the window allows; returns their indices (offset / chunk).
  std::vector<uint64_t> read_all(uint32_t chunk = kMiB, int status = FERRY_OK) {
    std::vector<uint64_t> out;
    while (auto job = m().poll_read(now)) {
      uint8_t prefix[proto::kChunkFramePrefixBytes];
      proto::ChunkSum h{};
      bool send = m().on_read_done(job->id, status, "changed", h, prefix, now);
      EXPECT_EQ(send, status == FERRY_OK);
      out.push_back(job->offset / chunk);
    }
    core->pump_uploads(now);
    return out;
  }

  // --- resource server ---
  void res_connect(uint32_t server_heartbeat_ms = 10000) {
    std::optional<std::string> addr = m().poll_connect();
    ASSERT_TRUE(addr);
    EXPECT_EQ(*addr, "127.0.0.1:7421");
    m().on_connected(now);
    std::vector<proto::Frame> hello = res_sent_frames();
    ASSERT_GE(hello.size(), 1u);
    EXPECT_EQ(hello[0].type, FrameType::Hello);
    // OPENs of the uploads waiting for the server ride right behind the HELLO; the next
    // res_sent_frames() (expect_open) sees them first.
    res_pending.assign(hello.begin() + 1, hello.end());
    for (const proto::Frame& f : res_pending) EXPECT_EQ(f.type, FrameType::UploadOpen);
    feed_res(FrameType::Hello,
             R"({"proto":1,"heartbeat_ms":)" + std::to_string(server_heartbeat_ms) + "}");
  }
  std::vector<proto::Frame> res_sent_frames() {
    res_bytes = m().poll_send();
    res_dec.feed(res_bytes.data(), res_bytes.size());
    std::vector<proto::Frame> out = std::move(res_pending);
    res_pending.clear();
    proto::Frame f;
    while (res_dec.next(f) == proto::DecodeStatus::Ready) {
      if (f.type == FrameType::Ping) continue;  // heartbeats after a long fake-clock jump
      res_bodies.emplace_back(f.body);
      f.body = res_bodies.back();
      out.push_back(f);
    }
    return out;
  }
  proto::UploadOpen expect_open() {
    std::vector<proto::Frame> fs = res_sent_frames();
    proto::UploadOpen open;
    std::string err;
    EXPECT_EQ(fs.size(), 1u);
    if (fs.empty()) return open;
    EXPECT_EQ(fs[0].type, FrameType::UploadOpen);
    EXPECT_TRUE(proto::decode_upload_open(fs[0].body, open, err)) << err;
    return open;
  }
  void feed_res(FrameType t, const std::string& body) {
    std::string bytes;
    proto::encode_frame(bytes, t, body);
    feed_res_raw(bytes);
  }
  void feed_res_raw(const std::string& bytes) {
    m().on_bytes(bytes.data(), bytes.size(), now);
    core->pump_uploads(now);
  }
  void state(uint32_t slot, uint64_t size, std::vector<proto::ChunkRange> held,
             proto::UploadStatus st = proto::UploadStatus::Ok) {
    proto::UploadState s;
    s.slot = slot;
    s.status = st;
    if (st == proto::UploadStatus::Ok) {
      s.chunk_size = kMiB;
      s.file_size = size;
      s.total_chunks = proto::chunk_count(size, kMiB);
      s.held = std::move(held);
    }
    std::string out;
    proto::encode_upload_state(out, s);
    feed_res_raw(out);
  }
  void ack(uint32_t slot, uint64_t cumulative) {
    proto::ChunkAck a;
    a.slot = slot;
    a.cumulative = cumulative;
    std::string out;
    proto::encode_chunk_ack(out, a);
    feed_res_raw(out);
  }
  void done(uint32_t slot, uint64_t size, proto::UploadStatus st = proto::UploadStatus::Ok) {
    proto::UploadDone d;
    d.slot = slot;
    d.status = st;
    d.file_size = size;
    d.file_hash.fill(0xaa);
    std::string out;
    proto::encode_upload_done(out, d);
    feed_res_raw(out);
  }

  std::vector<Event> events() {
    std::vector<Event> out;
    Event e;
    while (core->poll_event(e)) out.push_back(std::move(e));
    return out;
  }
  std::vector<int> statuses(const std::vector<Event>& evs, int* err = nullptr) {
    std::vector<int> out;
    for (const Event& e : evs) {
      if (e.type != FERRY_EVENT_MESSAGE_STATUS) continue;
      out.push_back(e.message.status);
      if (err) *err = e.status;
    }
    return out;
  }
  void advance(uint64_t ms) {
    now += ms;
    core->handle_timeout(now);
  }
  // Time passes on healthy connections: both servers answer the heartbeats (a PONG every
  // 5 s), so neither connection is declared dead.
  void live_for(uint64_t ms, uint64_t max_step_ms = 5000) {
    for (uint64_t left = ms; left > 0;) {
      uint64_t step = std::min<uint64_t>(left, max_step_ms);
      left -= step;
      advance(step);
      feed_chat(FrameType::Pong, "");
      if (m().resource_ready()) feed_res(FrameType::Pong, "");
    }
  }

  // A new core with one upload of `size` submitted, hashed and announced, and its grant for
  // `ticket` answered as message `id`: the resource connection is next. Returns its cid.
  std::string granted_upload(uint64_t size, uint64_t id, const std::string& ticket) {
    make_core();
    std::string cid = submit(size);
    prepare();
    Req r = one_request("send_media");
    respond(r.rid,
            R"("message":)" + media_msg(id, cid, "uploading", size) + "," + grant(ticket));
    return cid;
  }

  // Announce, get the grant, connect to the resource server and answer the OPEN.
  uint32_t announce_and_open(const std::string& cid, uint64_t size, uint64_t id,
                             std::vector<proto::ChunkRange> held = {}) {
    Req r = one_request("send_media");
    EXPECT_EQ(r.str("cid"), cid);
    EXPECT_EQ(r.str("sha256"), kSha);
    respond(r.rid, R"("message":)" + media_msg(id, cid, "uploading", size) + "," + grant("T1"));
    res_connect();
    proto::UploadOpen open = expect_open();
    EXPECT_EQ(open.ticket, "T1");
    state(open.slot, size, std::move(held));
    return open.slot;
  }

  // Hash later: the probe (no hash) of the upload just submitted, then its hash job.
  void probe_only(const std::string& cid) {
    std::optional<PrepareJob> job = m().poll_prepare();
    ASSERT_TRUE(job);
    EXPECT_FALSE(job->hash) << "a large file is not hashed before it is announced";
    PrepareResult probed;
    probed.mime = "x/y";
    probed.kind = FERRY_KIND_FILE;
    m().on_prepared(cid, probed, now);
    core->pump_uploads(now);
    std::optional<PrepareJob> hash = m().poll_hash();
    ASSERT_TRUE(hash);
    EXPECT_TRUE(hash->hash);
    EXPECT_FALSE(hash->probe);
  }
  void hashed(const std::string& cid, int status = FERRY_OK) {
    PrepareResult r;
    r.status = status;
    if (status == FERRY_OK) r.sha256 = kSha;
    m().on_hashed(cid, r, now);
    core->pump_uploads(now);
  }
  // Announce without a hash, the unbound grant "U1", OPEN answered with nothing held.
  uint32_t announce_unhashed_and_open(const std::string& cid, uint64_t size, uint64_t id) {
    Req r = one_request("send_media");
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(r.j.get(), "sha256"), nullptr)
        << "announced before the hash is known";
    respond(r.rid, R"("message":)" + unhashed_msg(id, cid, "uploading", size) + "," + grant("U1"));
    res_connect();
    proto::UploadOpen open = expect_open();
    EXPECT_EQ(open.ticket, "U1");
    state(open.slot, size, {});
    return open.slot;
  }

  FakeStore store;
  std::unique_ptr<ClientCore> core;
  uint64_t now = 1000;
  uint64_t sync_since = 0;
  Req sync_req;  // the first sync of make_core(true)
  int n_ = 0;
  proto::FrameDecoder chat_dec{1u << 20};
  proto::FrameDecoder res_dec{1u << 20};
  std::string res_bytes;
  std::deque<std::string> res_bodies;
  std::vector<proto::Frame> res_pending;  // frames sent with the HELLO, not yet looked at
  std::vector<Req> chat_pending;  // requests sent behind the auth, not yet looked at
  std::string auth_extra;  // more fields of the auth answer (",\"resource\":…")
};

TEST_F(Media, sdk_media_resume_sends_only_missing_chunks_then_ready) {
  make_core();
  std::string cid = submit(5 * kMiB);
  prepare();
  EXPECT_EQ(statuses(events()), std::vector<int>{FERRY_MSG_PENDING});
  uint32_t slot = announce_and_open(cid, 5 * kMiB, 42, {{0, 2}});
  std::vector<Event> evs = events();
  EXPECT_EQ(statuses(evs), std::vector<int>{FERRY_MSG_UPLOADING});
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().type, FERRY_EVENT_UPLOAD_PROGRESS);  // the resume point
  EXPECT_EQ(evs.back().done, 2 * kMiB);
  EXPECT_EQ(store.uploads_.at(0).message_id, 42u);
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{2, 3, 4}));  // held chunks are never re-sent
  ack(slot, 5);
  evs = events();
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().done, 5 * kMiB);
  EXPECT_TRUE(evs.back().outgoing);
  done(slot, 5 * kMiB);
  EXPECT_TRUE(statuses(events()).empty());  // READY comes from the chat server
  push_status(42, "ready");
  evs = events();
  EXPECT_EQ(statuses(evs), std::vector<int>{FERRY_MSG_READY});
  EXPECT_EQ(evs.back().message.id, 42u);
  EXPECT_TRUE(evs.back().message.has_media);
  EXPECT_TRUE(store.uploads_.empty());
  EXPECT_EQ(m().active(), 0u);
  EXPECT_EQ(m().counters().chunks_sent, 3u);
}

// The auth answer names the resource server: a send_media on its way dials it, so its HELLO is
// answered by the time the ticket comes and the OPEN goes at once (docs/protocol.md, register).
TEST_F(Media, sdk_media_resource_hint_dials_while_send_media_is_out) {
  auth_extra = R"(,"resource":"127.0.0.1:7421")";
  make_core();
  EXPECT_FALSE(m().poll_connect());  // nothing to send: no connection
  std::string cid = submit(5 * kMiB);
  prepare();
  Req r = one_request("send_media");
  std::optional<std::string> addr = m().poll_connect();  // before the answer
  ASSERT_TRUE(addr);
  EXPECT_EQ(*addr, "127.0.0.1:7421");
  m().on_connected(now);
  std::vector<proto::Frame> hello = res_sent_frames();
  ASSERT_EQ(hello.size(), 1u);  // no ticket yet: the HELLO alone
  EXPECT_EQ(hello[0].type, FrameType::Hello);
  // The ticket comes before resd's HELLO does: its OPEN follows ours at once.
  respond(r.rid, R"("message":)" + media_msg(42, cid, "uploading", 5 * kMiB) + "," + grant("T1"));
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(open.ticket, "T1");
  feed_res(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  state(open.slot, 5 * kMiB, {});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1, 2, 3}));  // the initial window
  ack(open.slot, 4);
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{4}));
  ack(open.slot, 5);
  done(open.slot, 5 * kMiB);
  push_status(42, "ready");
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
  EXPECT_EQ(m().active(), 0u);
}

// An instant send after a pre-dial: nothing to upload, so the connection is let go.
TEST_F(Media, sdk_media_resource_hint_then_instant_send_closes_the_connection) {
  auth_extra = R"(,"resource":"127.0.0.1:7421")";
  make_core();
  std::string cid = submit(3 * kMiB);
  prepare();
  Req r = one_request("send_media");
  ASSERT_TRUE(m().poll_connect());
  m().on_connected(now);
  res_sent_frames();
  respond(r.rid, R"("message":)" + media_msg(7, cid, "ready", 3 * kMiB));
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
  EXPECT_TRUE(m().poll_close());
}

TEST_F(Media, sdk_media_instant_send_is_ready_without_upload) {
  make_core();
  std::string cid = submit(3 * kMiB);
  prepare();
  Req r = one_request("send_media");
  respond(r.rid, R"("message":)" + media_msg(7, cid, "ready", 3 * kMiB));
  std::vector<Event> evs = events();
  EXPECT_EQ(statuses(evs), (std::vector<int>{FERRY_MSG_PENDING, FERRY_MSG_READY}));
  EXPECT_FALSE(m().poll_connect());
  EXPECT_TRUE(store.uploads_.empty());
}

// --- Hash later ------------------------------------------------------------------------------

// A file of hash_later_min_bytes (64 MiB) or more: probed only, announced without a hash, and
// its chunks sent while the adapter hashes it; the hash is then bound with bind_hash and the
// bound ticket is what any later OPEN carries. The resource server's verdict ends it as usual.
TEST_F(Media, sdk_media_hash_later_sends_before_the_hash_then_binds_it) {
  make_core();
  uint64_t size = 64 * kMiB;
  std::string cid = submit(size);
  probe_only(cid);
  EXPECT_FALSE(m().poll_hash()) << "one hash job per upload";
  uint32_t slot = announce_unhashed_and_open(cid, size, 42);
  EXPECT_FALSE(read_all().empty()) << "chunks go out while the file is being hashed";
  EXPECT_TRUE(chat_sent().empty()) << "nothing to bind yet";
  hashed(cid);
  EXPECT_EQ(store.uploads_.at(0).sha256, kSha) << "kept for a restart";
  Req b = one_request("bind_hash");
  EXPECT_EQ(b.num("message_id"), 42u);
  EXPECT_EQ(b.str("sha256"), kSha);
  respond(b.rid, R"("message":)" + media_msg(42, cid, "uploading", size) + "," + grant("B1"));
  EXPECT_TRUE(res_sent_frames().empty()) << "no re-OPEN: the chat server told resd";
  ack(slot, 64);
  done(slot, size);
  push_status(42, "ready");
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
  EXPECT_TRUE(store.uploads_.empty());
}

// The hash is ready while the send_media (without it) is still unanswered: the answer shows
// the server has no hash, so it is bound next.
TEST_F(Media, sdk_media_hash_later_hash_ready_before_the_announce_answer) {
  make_core();
  uint64_t size = 64 * kMiB;
  std::string cid = submit(size);
  probe_only(cid);
  Req r = one_request("send_media");
  hashed(cid);
  EXPECT_TRUE(chat_sent().empty()) << "no message id yet";
  respond(r.rid, R"("message":)" + unhashed_msg(46, cid, "uploading", size) + "," + grant("U1"));
  Req b = one_request("bind_hash");
  EXPECT_EQ(b.num("message_id"), 46u);
}

// bind_hash finds the bytes stored already (instant send): READY at once, nothing more sent;
// resd's UPLOAD_DONE "cancelled" for the dropped partial changes nothing.
TEST_F(Media, sdk_media_hash_later_instant_send_at_bind) {
  make_core();
  uint64_t size = 64 * kMiB;
  std::string cid = submit(size);
  probe_only(cid);
  uint32_t slot = announce_unhashed_and_open(cid, size, 43);
  read_all();
  hashed(cid);
  Req b = one_request("bind_hash");
  respond(b.rid, R"("message":)" + media_msg(43, cid, "ready", size));
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
  EXPECT_TRUE(store.uploads_.empty());
  done(slot, size, proto::UploadStatus::Cancelled);
  EXPECT_TRUE(statuses(events()).empty());
  EXPECT_FALSE(m().poll_read(now));
}

// The file changes while it is hashed: the upload fails and is cancelled on the server.
TEST_F(Media, sdk_media_hash_later_source_change_fails_and_cancels) {
  make_core();
  uint64_t size = 64 * kMiB;
  std::string cid = submit(size);
  probe_only(cid);
  Req r = one_request("send_media");
  respond(r.rid, R"("message":)" + unhashed_msg(44, cid, "uploading", size) + "," + grant("U1"));
  hashed(cid, FERRY_ESOURCECHANGED);
  int err = 0;
  EXPECT_EQ(statuses(events(), &err).back(), FERRY_MSG_FAILED);
  EXPECT_EQ(err, FERRY_ESOURCECHANGED);
  Req c = one_request("cancel_upload");
  EXPECT_EQ(c.num("message_id"), 44u);
}

// After an app restart an upload that was hashed but maybe not bound announces again (the
// server answers without a hash) and binds; one never hashed is hashed again.
TEST_F(Media, sdk_media_hash_later_restart_rebinds_or_rehashes) {
  for (bool hashed : {true, false}) {
    SCOPED_TRACE(hashed ? "hashed before the restart" : "not hashed yet");
    store.uploads_.clear();
    PendingUpload u = stored_upload("cid-restart", 64 * kMiB, 45, hashed ? kSha : "");
    store.upload_put(u);
    make_core();
    EXPECT_FALSE(m().poll_prepare()) << "probed before the restart";
    EXPECT_EQ(m().poll_hash().has_value(), !hashed);
    Req r = one_request("send_media");
    respond(r.rid, R"("message":)" + unhashed_msg(45, u.cid, "uploading", u.size) + "," +
                       grant("U2"));
    std::vector<Req> next = chat_sent();
    ASSERT_EQ(next.size(), hashed ? 1u : 0u);
    if (hashed) {
      EXPECT_EQ(next[0].op, "bind_hash");
    }
    core.reset();
  }
}

// A fresh upload's chunks follow its OPEN without waiting a round trip for UPLOAD_STATE: the
// server holds nothing of it and cuts it by proto::resd_chunk_size. The answer, when it comes,
// merges what the server does hold (a chunk sent twice is harmless).
TEST_F(Media, sdk_media_fresh_upload_sends_chunks_behind_its_open) {
  granted_upload(6 * kMiB, 60, "F");
  res_connect();
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1, 2, 3})) << "before any UPLOAD_STATE";
  state(open.slot, 6 * kMiB, {{5, 6}});  // it held the last chunk after all
  ack(open.slot, 2);
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{4})) << "chunk 5 is held: not sent";
  ack(open.slot, 6);
  done(open.slot, 6 * kMiB);
  push_status(60, "ready");
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
}

// Before the server's HELLO is in: the ticket came while lane 0 greeted, the OPEN rides
// behind our HELLO, and so do the chunks.
TEST_F(Media, sdk_media_chunks_ride_behind_hello_and_open) {
  granted_upload(2 * kMiB, 61, "G");
  ASSERT_TRUE(m().poll_connect());
  m().on_connected(now);
  std::vector<proto::Frame> sent = res_sent_frames();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].type, FrameType::Hello);
  EXPECT_EQ(sent[1].type, FrameType::UploadOpen);
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1})) << "no answer from resd yet";
}

// An upload that resumes (bytes known durable) waits for the server's word on what it holds.
TEST_F(Media, sdk_media_resumed_upload_waits_for_upload_state) {
  PendingUpload u = stored_upload("resumed-cid", 4 * kMiB, 62);
  u.done = 2 * kMiB;
  store.upload_put(u);
  make_core();
  Req r = one_request("send_media");
  respond(r.rid, R"("message":)" + media_msg(62, "resumed-cid", "uploading", 4 * kMiB) + "," +
                     grant("R"));
  res_connect();
  proto::UploadOpen open = expect_open();
  EXPECT_TRUE(read_all().empty());
  state(open.slot, 4 * kMiB, {{0, 2}});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{2, 3}));
}

// A refused OPEN whose chunks already left: the upload takes the usual path (here a fresh
// ticket), and the NACKs of the chunks behind the refused OPEN change nothing.
TEST_F(Media, sdk_media_refused_open_with_chunks_behind_it_takes_the_usual_path) {
  granted_upload(2 * kMiB, 63, "OLD");
  res_connect();
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(read_all().size(), 2u);
  state(open.slot, 0, {}, proto::UploadStatus::TicketExpired);
  proto::ChunkAck nack;
  nack.slot = open.slot;
  nack.nacks = {{0, proto::NackReason::UnknownSlot}, {1, proto::NackReason::UnknownSlot}};
  std::string bytes;
  proto::encode_chunk_ack(bytes, nack);
  feed_res_raw(bytes);
  Req t = one_request("upload_ticket");
  respond(t.rid, grant("NEW"));
  proto::UploadOpen again = expect_open();
  EXPECT_EQ(again.ticket, "NEW");
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1}));
  state(again.slot, 2 * kMiB, {});
  ack(again.slot, 2);
  done(again.slot, 2 * kMiB);
  push_status(63, "ready");
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_READY);
}

// A server that cuts the file otherwise than the protocol's rule: the presumed chunks are
// abandoned, and the upload OPENs again and waits for the answer before it sends.
TEST_F(Media, sdk_media_other_chunk_size_reopens_and_waits) {
  granted_upload(4 * kMiB, 64, "C");
  res_connect();
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(read_all().size(), 4u);
  proto::UploadState st;
  st.slot = open.slot;
  st.status = proto::UploadStatus::Ok;
  st.chunk_size = 2 * kMiB;
  st.file_size = 4 * kMiB;
  st.total_chunks = 2;
  std::string bytes;
  proto::encode_upload_state(bytes, st);
  feed_res_raw(bytes);
  proto::UploadOpen again = expect_open();
  EXPECT_NE(again.slot, open.slot);
  EXPECT_TRUE(read_all().empty()) << "waits for the server's answer this time";
  st.slot = again.slot;
  bytes.clear();
  proto::encode_upload_state(bytes, st);
  feed_res_raw(bytes);
  EXPECT_EQ(read_all(2 * kMiB), (std::vector<uint64_t>{0, 1}));
}

TEST_F(Media, sdk_media_ticket_expiry_asks_upload_ticket_and_reopens) {
  granted_upload(2 * kMiB, 9, "OLD");
  res_connect();
  proto::UploadOpen open = expect_open();
  state(open.slot, 0, {}, proto::UploadStatus::TicketExpired);
  Req t = one_request("upload_ticket");
  EXPECT_EQ(t.num("message_id"), 9u);
  respond(t.rid, grant("NEW"));
  proto::UploadOpen again = expect_open();
  EXPECT_EQ(again.ticket, "NEW");
  EXPECT_NE(again.slot, open.slot);
}

TEST_F(Media, sdk_media_disk_full_retries_with_backoff_and_never_fails) {
  granted_upload(2 * kMiB, 9, "T");
  res_connect();
  proto::UploadOpen open = expect_open();
  events();
  state(open.slot, 0, {}, proto::UploadStatus::DiskFull);
  std::vector<Event> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, FERRY_EVENT_UPLOAD_PROGRESS);
  EXPECT_EQ(evs[0].status, FERRY_EDISKFULL);
  EXPECT_TRUE(res_sent_frames().empty());
  advance(20000);  // beyond the first backoff delay
  proto::UploadOpen again = expect_open();
  EXPECT_EQ(again.ticket, "T");
  EXPECT_EQ(m().active(), 1u);
}

TEST_F(Media, sdk_media_corrupt_fails_the_message) {
  make_core();
  std::string cid = submit(kMiB);
  prepare();
  uint32_t slot = announce_and_open(cid, kMiB, 5);
  events();
  EXPECT_EQ(read_all().size(), 1u);
  ack(slot, 1);
  done(slot, 0, proto::UploadStatus::Corrupt);
  int err = 0;
  EXPECT_EQ(statuses(events(), &err), std::vector<int>{FERRY_MSG_FAILED});
  EXPECT_EQ(err, FERRY_ECORRUPT);
  EXPECT_TRUE(store.uploads_.empty());
}

TEST_F(Media, sdk_media_cancel_tells_the_chat_server) {
  make_core();
  std::string cid = submit(4 * kMiB);
  prepare();
  announce_and_open(cid, 4 * kMiB, 11);
  events();
  ASSERT_TRUE(core->upload_cancel(cid, now));
  EXPECT_TRUE(store.uploads_.at(0).cancelled);
  EXPECT_TRUE(read_all().empty());  // nothing more goes out
  Req c = one_request("cancel_upload");
  EXPECT_EQ(c.num("message_id"), 11u);
  respond(c.rid, R"("message":)" + media_msg(11, cid, "cancelled", 4 * kMiB));
  EXPECT_EQ(statuses(events()), std::vector<int>{FERRY_MSG_CANCELLED});
  push_status(11, "cancelled");  // the push to every connection: consumed, no second event
  EXPECT_TRUE(events().empty());
  EXPECT_TRUE(store.uploads_.empty());
}

TEST_F(Media, sdk_media_restart_from_store_announces_same_cid_and_resumes) {
  PendingUpload u = stored_upload("stored-cid", 4 * kMiB, 77);
  u.done = 3 * kMiB;
  u.paused = true;  // not paused after a restart
  store.upload_put(u);
  make_core();
  EXPECT_FALSE(m().poll_prepare());  // hashed before the restart: not again
  uint32_t slot = announce_and_open("stored-cid", 4 * kMiB, 77, {{0, 3}});
  EXPECT_FALSE(store.uploads_.at(0).paused);
  EXPECT_EQ(read_all(), std::vector<uint64_t>{3});
  ack(slot, 4);
  done(slot, 4 * kMiB);
  push_status(77, "ready");
  EXPECT_EQ(statuses(events()), (std::vector<int>{FERRY_MSG_UPLOADING, FERRY_MSG_READY}));
}

// An upload waiting in the store when the app starts: its send_media leaves in the same write
// as the HELLO and the stored session's auth, before either is answered (chatd reads a
// connection's requests in order), so the ticket comes a round trip sooner.
TEST_F(Media, sdk_media_send_media_rides_behind_the_session_auth) {
  std::vector<Req> first = connect_with_stored_upload("early-cid");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].op, "auth");
  EXPECT_EQ(first[1].op, "send_media");
  EXPECT_EQ(first[1].str("cid"), "early-cid");
  feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  respond(first[0].rid, R"("user_id":1,"user":"alice")");
  EXPECT_TRUE(chat_sent().empty()) << "nothing asked twice once online";
  respond(first[1].rid,
          R"("message":)" + media_msg(50, "early-cid", "uploading", 2 * kMiB) + "," + grant("E1"));
  res_connect();
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(open.ticket, "E1");
  state(open.slot, 2 * kMiB, {});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1}));
  ack(open.slot, 2);
  done(open.slot, 2 * kMiB);
  push_status(50, "ready");
  EXPECT_EQ(statuses(events()), (std::vector<int>{FERRY_MSG_UPLOADING, FERRY_MSG_READY}));
}

// The store kept the resource server's address from the last process: the connection is
// dialed as the send_media leaves behind the auth, before any answer, and is up when the
// ticket comes. The chat server's answers then keep the store's address current.
TEST_F(Media, sdk_media_stored_resource_hint_dials_with_the_first_send_media) {
  store.hint_ = "127.0.0.1:7421";
  std::vector<Req> first = connect_with_stored_upload("early-cid");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[1].op, "send_media");
  std::optional<std::string> addr = m().poll_connect();
  ASSERT_TRUE(addr) << "dialed before the auth's answer";
  EXPECT_EQ(*addr, "127.0.0.1:7421");
  m().on_connected(now);
  EXPECT_EQ(res_sent_frames().size(), 1u);  // the HELLO; no ticket yet
  feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  respond(first[0].rid, R"("user_id":1,"user":"alice","resource":"127.0.0.1:7421")");
  EXPECT_FALSE(m().poll_close()) << "the same address: the connection stays";
  respond(first[1].rid,
          R"("message":)" + media_msg(51, "early-cid", "uploading", 2 * kMiB) + "," + grant("E2"));
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(open.ticket, "E2");
  EXPECT_EQ(store.hint_, "127.0.0.1:7421");
}

// A stale stored address: the chat server's answer names another, and the connection to the
// old one is let go for it.
TEST_F(Media, sdk_media_stale_stored_hint_gives_way_to_the_chat_servers) {
  store.hint_ = "127.0.0.1:9";
  std::vector<Req> first = connect_with_stored_upload("early-cid");
  ASSERT_EQ(first.size(), 2u);
  std::optional<std::string> addr = m().poll_connect();
  ASSERT_TRUE(addr);
  EXPECT_EQ(*addr, "127.0.0.1:9");
  feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  respond(first[0].rid, R"("user_id":1,"user":"alice","resource":"127.0.0.1:7421")");
  EXPECT_TRUE(m().poll_close());
  EXPECT_EQ(store.hint_, "127.0.0.1:7421");
  respond(first[1].rid,
          R"("message":)" + media_msg(52, "early-cid", "uploading", 2 * kMiB) + "," + grant("E3"));
  res_connect();  // at once, no backoff: the new address (res_connect checks it)
  proto::UploadOpen open = expect_open();
  EXPECT_EQ(open.ticket, "E3");
}

// Only a few requests ride behind the auth (a refused token answers each with an error, and
// chatd closes a connection after 32 in a row); the rest follow its answer.
TEST_F(Media, sdk_media_only_a_few_requests_ride_behind_the_auth) {
  for (int i = 0; i < 5; i++) store.upload_put(stored_upload("more-" + std::to_string(i), kMiB, 0));
  std::vector<Req> first = connect_with_stored_upload("early-cid");
  ASSERT_EQ(first.size(), 5u);  // the auth and four send_media
  EXPECT_EQ(first[0].op, "auth");
  for (size_t i = 1; i < first.size(); i++) EXPECT_EQ(first[i].op, "send_media");
  feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  respond(first[0].rid, R"("user_id":1,"user":"alice")");
  std::vector<Req> rest = chat_sent();
  ASSERT_EQ(rest.size(), 2u);
  for (const Req& r : rest) EXPECT_EQ(r.op, "send_media");
}

// The stored token was revoked: the send_media behind it is answered not_authenticated. The
// upload does not fail; it is announced again once the app has logged in.
TEST_F(Media, sdk_media_refused_session_auth_announces_again_after_login) {
  std::vector<Req> first = connect_with_stored_upload("early-cid");
  ASSERT_EQ(first.size(), 2u);
  feed_chat(FrameType::Hello, R"({"proto":1,"heartbeat_ms":10000})");
  respond_error(first[0].rid, "auth_failed");
  respond_error(first[1].rid, "not_authenticated");
  for (int st : statuses(events())) EXPECT_NE(st, FERRY_MSG_FAILED);
  EXPECT_TRUE(m().owns_cid("early-cid"));
  core->submit_login(7, "alice", "pw", now);
  Req login = one_request("login");
  respond(login.rid, R"("user_id":1,"user":"alice","token":"tok2")");
  live_for(30000);
  Req again = one_request("send_media");
  EXPECT_EQ(again.str("cid"), "early-cid");
}

// Another client of the same state directory (`ferry upload-cancel` while send-file runs)
// announces the stored upload again: the answer carries the hash, so nothing is bound, and a
// cancel goes out at once. (CI once lost such a cancel: a needless bind_hash was in flight
// and its answer dropped the cancel.)
TEST_F(Media, sdk_media_second_client_cancels_a_running_upload) {
  PendingUpload u = stored_upload("running-cid", 32 * kMiB, 12);
  store.upload_put(u);
  make_core();
  Req r = one_request("send_media");
  respond(r.rid, R"("message":)" + media_msg(12, u.cid, "uploading", u.size) + "," + grant("T"));
  EXPECT_TRUE(chat_sent().empty()) << "no bind_hash: the server has the hash";
  ASSERT_TRUE(core->upload_cancel(u.cid, now));
  Req c = one_request("cancel_upload");
  EXPECT_EQ(c.num("message_id"), 12u);
  respond(c.rid, R"("message":)" + media_msg(12, u.cid, "cancelled", u.size));
  EXPECT_EQ(statuses(events()).back(), FERRY_MSG_CANCELLED);
  EXPECT_TRUE(store.uploads_.empty());
}

// A cancel asked while a bind_hash is in flight goes out once the bind is answered.
TEST_F(Media, sdk_media_cancel_during_bind_goes_out_after_its_answer) {
  make_core();
  uint64_t size = 64 * kMiB;
  std::string cid = submit(size);
  probe_only(cid);
  announce_unhashed_and_open(cid, size, 47);
  read_all();
  hashed(cid);
  Req b = one_request("bind_hash");
  ASSERT_TRUE(core->upload_cancel(cid, now));
  EXPECT_TRUE(chat_sent().empty());
  respond(b.rid, R"("message":)" + media_msg(47, cid, "uploading", size) + "," + grant("B"));
  Req c = one_request("cancel_upload");
  EXPECT_EQ(c.num("message_id"), 47u);
}

TEST_F(Media, sdk_media_source_change_fails_and_cancels_on_server) {
  make_core();
  std::string cid = submit(3 * kMiB);
  prepare();
  announce_and_open(cid, 3 * kMiB, 21);
  events();
  read_all(kMiB, FERRY_ESOURCECHANGED);
  int err = 0;
  EXPECT_EQ(statuses(events(), &err), std::vector<int>{FERRY_MSG_FAILED});
  EXPECT_EQ(err, FERRY_ESOURCECHANGED);
  Req c = one_request("cancel_upload");  // so the server never keeps a mixed file
  EXPECT_EQ(c.num("message_id"), 21u);
  respond(c.rid, R"("message":)" + media_msg(21, cid, "cancelled", 3 * kMiB));
  EXPECT_TRUE(events().empty());  // FAILED was the final word
  EXPECT_TRUE(store.uploads_.empty());
}

TEST_F(Media, sdk_media_cut_resource_connection_reconnects_and_reopens) {
  make_core();
  std::string cid = submit(4 * kMiB);
  prepare();
  uint32_t slot = announce_and_open(cid, 4 * kMiB, 31);
  read_all();
  ack(slot, 2);
  m().on_disconnected(FERRY_ENOTCONN, "cut", now);
  EXPECT_FALSE(m().poll_connect());  // backoff first
  advance(20000);
  res_connect();
  proto::UploadOpen open = expect_open();
  state(open.slot, 4 * kMiB, {{0, 2}});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{2, 3}));
}

// Regression (issue 5, chaos_upload.upload_state_lost_then_link_clean): resd's UPLOAD_STATE
// for an OPEN never arrives while the resource connection stays healthy. Before the fix the
// upload waited forever; now the OPEN is sent again under a fresh slot after the answer
// deadline (6 heartbeats: 60 s here), a late answer for the old slot is ignored, and a second
// unanswered OPEN (deadline doubled) drops the connection and OPENs again on a new one.
TEST_F(Media, sdk_media_unanswered_open_is_resent_then_reconnects) {
  granted_upload(2 * kMiB, 12, "T");
  res_connect();
  proto::UploadOpen first = expect_open();
  live_for(55000);
  EXPECT_TRUE(res_sent_frames().empty()) << "OPEN re-sent before its deadline";
  EXPECT_FALSE(m().poll_close());
  live_for(5000);  // 60 s: the deadline
  proto::UploadOpen second = expect_open();
  EXPECT_EQ(second.ticket, "T");
  EXPECT_NE(second.slot, first.slot);
  EXPECT_FALSE(m().poll_close());  // same connection
  live_for(115000);  // the re-sent OPEN has twice the time
  EXPECT_TRUE(res_sent_frames().empty());
  EXPECT_FALSE(m().poll_close());
  live_for(5000);
  EXPECT_TRUE(m().poll_close()) << "second unanswered OPEN must drop the connection";
  advance(20000);  // reconnect backoff
  res_connect();
  proto::UploadOpen third = expect_open();
  EXPECT_EQ(third.ticket, "T");
  state(third.slot, 2 * kMiB, {});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(m().active(), 1u);
  int err = 0;
  for (int st : statuses(events(), &err)) EXPECT_NE(st, FERRY_MSG_FAILED) << err;
}

// Regression (chaos_upload.upload_state_lost_then_link_clean took 60 s): the OPEN rides behind
// our HELLO, before the server's HELLO says its heartbeat. A server with a 500 ms heartbeat
// makes the deadline 6 of those (3 s), not 6 of ours (60 s).
TEST_F(Media, sdk_media_open_deadline_follows_the_servers_heartbeat) {
  granted_upload(2 * kMiB, 12, "T");
  res_connect(500);
  proto::UploadOpen first = expect_open();
  live_for(2500, 250);  // answering its heartbeats, so the connection stays up
  EXPECT_TRUE(res_sent_frames().empty()) << "OPEN re-sent before its deadline";
  live_for(500, 250);  // 3 s: the deadline
  proto::UploadOpen second = expect_open();
  EXPECT_NE(second.slot, first.slot);
  EXPECT_FALSE(m().poll_close());
  state(second.slot, 2 * kMiB, {});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{0, 1}));
}

// The re-sent OPEN is answered: the upload goes on over the same connection, and a late
// answer to the first OPEN changes nothing (its slot was given up).
TEST_F(Media, sdk_media_lost_upload_state_recovers_on_same_connection) {
  granted_upload(3 * kMiB, 13, "T");
  res_connect();
  proto::UploadOpen first = expect_open();
  live_for(60000);
  proto::UploadOpen second = expect_open();
  state(first.slot, 3 * kMiB, {});  // late, for the abandoned slot: ignored
  EXPECT_TRUE(read_all().empty());
  state(second.slot, 3 * kMiB, {{0, 1}});
  EXPECT_EQ(read_all(), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(m().poll_close());  // all on the first connection
  ack(second.slot, 3);
  done(second.slot, 3 * kMiB);
  push_status(13, "ready");
  EXPECT_EQ(statuses(events()),
            (std::vector<int>{FERRY_MSG_PENDING, FERRY_MSG_UPLOADING, FERRY_MSG_READY}));
}

// Every chunk acked but UPLOAD_DONE lost (and no READY push): after the deadline the upload is
// OPENed again; resd answers a finished upload with UPLOAD_STATE (all held) + UPLOAD_DONE.
TEST_F(Media, sdk_media_lost_upload_done_reopens_for_the_verdict) {
  make_core();
  std::string cid = submit(2 * kMiB);
  prepare();
  uint32_t slot = announce_and_open(cid, 2 * kMiB, 14);
  EXPECT_EQ(read_all().size(), 2u);
  ack(slot, 2);  // Verifying now
  live_for(55000);
  EXPECT_TRUE(res_sent_frames().empty());
  live_for(10000);  // 60 s + 1 s per 32 MiB
  proto::UploadOpen again = expect_open();
  EXPECT_NE(again.slot, slot);
  state(again.slot, 2 * kMiB, {{0, 2}});
  EXPECT_TRUE(read_all().empty());
  EXPECT_FALSE(m().poll_close());
  done(again.slot, 2 * kMiB);
  push_status(14, "ready");
  EXPECT_EQ(statuses(events()),
            (std::vector<int>{FERRY_MSG_PENDING, FERRY_MSG_UPLOADING, FERRY_MSG_READY}));
}

// Regression (issue 5, ferry-sim seed 1; see also Sim.OwnUploadNeverEchoedSeed1): chatd does
// not push a new media message to the session that sent it, so the sender's sync position
// stays below it. Before the fix the UploadManager forgot the cid when the upload ended, and
// the next sync handed the sender its own upload as a new FERRY_EVENT_MESSAGE. Now the
// message is kept with the acknowledged sends (the outbox, persisted) from the moment its id
// is known until the sync position passes it.
class OwnUpload : public Media {
 protected:
  // A receiving client uploads `cid` as message 42 up to READY; returns the cid.
  std::string upload_to_ready() {
    make_core(true);
    sync_with(sync_req, {});
    std::string cid = submit(kMiB);
    prepare();
    Req r = one_request("send_media");
    respond(r.rid, R"("message":)" + media_msg(42, cid, "uploading", kMiB) + "," + grant("T1"));
    EXPECT_EQ(store.outbox_.size(), 1u);  // recorded as soon as the id is known
    res_connect();
    proto::UploadOpen open = expect_open();
    state(open.slot, kMiB, {});
    read_all();
    ack(open.slot, 1);
    done(open.slot, kMiB);
    push_status(42, "ready");
    EXPECT_EQ(statuses(events()), (std::vector<int>{FERRY_MSG_PENDING, FERRY_MSG_UPLOADING,
                                                    FERRY_MSG_READY}));
    EXPECT_EQ(m().active(), 0u);  // the upload is over: the manager no longer owns the cid
    EXPECT_TRUE(store.uploads_.empty());
    EXPECT_LT(store.last_seen_, 42u);  // no push of its own message reached this session
    EXPECT_EQ(store.outbox_.size(), 1u);
    if (!store.outbox_.empty()) {
      EXPECT_EQ(store.outbox_[0].cid, cid);
      EXPECT_EQ(store.outbox_[0].server_id, 42u);
      EXPECT_TRUE(store.outbox_[0].text.empty());
    }
    return cid;
  }
};

TEST_F(OwnUpload, sdk_media_own_finished_upload_not_a_message_after_reconnect) {
  std::string cid = upload_to_ready();
  core->on_disconnected(FERRY_ENOTCONN, "cut", now);
  advance(20000);
  ASSERT_TRUE(core->poll_connect());
  Req sync = chat_connect(true);
  EXPECT_LT(sync.num("since"), 42u);
  sync_with(sync, {media_msg(42, cid, "ready", kMiB)});
  std::vector<Event> evs = events();
  EXPECT_TRUE(new_messages(evs).empty()) << "own upload handed back as a new message";
  EXPECT_EQ(core->last_seen(), 42u);
  EXPECT_TRUE(store.outbox_.empty());  // the sync position passed it: nothing kept
  EXPECT_TRUE(core->outbox_size() == 0);
}

TEST_F(OwnUpload, sdk_media_own_finished_upload_not_a_message_after_restart) {
  std::string cid = upload_to_ready();
  core.reset();  // the app exits; the state store (SQLite in real life) stays
  make_core(true);
  EXPECT_LT(sync_since, 42u);
  sync_with(sync_req, {media_msg(42, cid, "ready", kMiB)});
  EXPECT_TRUE(new_messages(events()).empty()) << "own upload handed back after a restart";
  EXPECT_TRUE(store.outbox_.empty());
}

// Never re-sent as a text, and a later message from the peer passes it and prunes it.
TEST_F(OwnUpload, sdk_media_own_upload_record_is_never_sent_and_pruned_when_passed) {
  upload_to_ready();
  core->on_disconnected(FERRY_ENOTCONN, "cut", now);
  advance(20000);
  ASSERT_TRUE(core->poll_connect());
  Req sync = chat_connect(true);
  std::string reply = media_msg(43, "bobcid", "ready", 5);
  const std::string from_alice = R"("from":"alice","to":"bob")";
  reply.replace(reply.find(from_alice), from_alice.size(), R"("from":"bob","to":"alice")");
  sync_with(sync, {reply});
  for (const Req& r : chat_sent()) EXPECT_NE(r.op, "send") << "the media record went out as text";
  std::vector<Event> got = new_messages(events());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message.id, 43u);
  EXPECT_TRUE(store.outbox_.empty());
}

// An instant send (READY in send_media's answer: the upload ends at once) whose message comes
// back in a sync page read together with that answer: still recognised as our own.
TEST_F(OwnUpload, sdk_media_instant_send_in_same_read_as_sync_not_a_message) {
  make_core(true);  // the first sync stays unanswered for now
  std::string cid = submit(3 * kMiB);
  prepare();
  Req r = one_request("send_media");
  std::string both;
  proto::encode_frame(both, FrameType::Response,
                      R"({"rid":)" + std::to_string(r.rid) + R"(,"ok":true,"message":)" +
                          media_msg(7, cid, "ready", 3 * kMiB) + "}");
  proto::encode_frame(both, FrameType::Response,
                      R"({"rid":)" + std::to_string(sync_req.rid) + R"(,"ok":true,"messages":[)" +
                          media_msg(7, cid, "ready", 3 * kMiB) + R"(],"more":false})");
  core->on_bytes(both.data(), both.size(), now);
  std::vector<Event> evs = events();
  EXPECT_TRUE(new_messages(evs).empty()) << "own instant send handed back as a new message";
  EXPECT_EQ(statuses(evs), (std::vector<int>{FERRY_MSG_PENDING, FERRY_MSG_READY}));
  EXPECT_EQ(core->last_seen(), 7u);
  EXPECT_TRUE(store.outbox_.empty());
}

TEST_F(Media, sdk_media_peer_progress_and_status_pushes_become_events) {
  make_core(/*receive=*/true);  // a receiving client this time
  const Req& sync = sync_req;
  std::string msg = media_msg(50, "theircid", "uploading", 100);
  const std::string from_alice = R"("from":"alice","to":"bob")";
  msg.replace(msg.find(from_alice), from_alice.size(), R"("from":"bob","to":"alice")");
  respond(sync.rid, R"("messages":[)" + msg + R"(],"more":false)");
  std::vector<Event> evs = events();
  bool got = false;
  for (const Event& e : evs) {
    if (e.type != FERRY_EVENT_MESSAGE) continue;
    got = true;
    EXPECT_TRUE(e.message.has_media);
    EXPECT_EQ(e.message.status, FERRY_MSG_UPLOADING);
    EXPECT_EQ(e.message.media.size, 100u);
  }
  EXPECT_TRUE(got);
  feed_chat(FrameType::Push, R"({"event":"progress","message_id":50,"done":40,"total":100})");
  evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].type, FERRY_EVENT_UPLOAD_PROGRESS);
  EXPECT_FALSE(evs[0].outgoing);
  EXPECT_EQ(evs[0].message.cid, "theircid");
  EXPECT_EQ(evs[0].done, 40u);
  push_status(50, "ready");
  evs = events();
  EXPECT_EQ(statuses(evs), std::vector<int>{FERRY_MSG_READY});
  EXPECT_EQ(evs[0].message.cid, "theircid");
}

}  // namespace
}  // namespace ferry::sdk
