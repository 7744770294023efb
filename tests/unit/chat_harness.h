// The fixture shared by ChatCore's unit tests (chat_core_test, chat_media_test): the real
// core over a real SqliteStore in a temp dir, driven synchronously as the uv adapter would:
// a fake clock (plain integer), a fake hasher that answers every HashJob at once (unless a
// test holds them), and clients that are frame decoders over the core's output. No sockets,
// no threads, no sleeps.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/frame.h"
#include "proto/hex.h"
#include "proto/json.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/store/sqlite_store.h"

namespace ferry::chat::harness {

using proto::FrameType;

struct Received {
  FrameType type;
  proto::Json body;  // null for PING/PONG bodies that are not JSON
  std::string raw;
};

struct Peer {
  proto::FrameDecoder decoder{1u << 24};
  std::vector<Received> frames;
  bool closed = false;
};

// How a test file's fixture differs from the others.
struct HarnessOptions {
  const char* dir_prefix;       // temp dir name, before the XXXXXX
  uint32_t peer_max_body;       // the clients' decoder bound
  bool run_timeouts;            // pump() fires the core's timers like the adapter does
  std::string secret_key = {};  // open_core() uses it when the config names none
};

class ChatHarness : public ::testing::Test {
 protected:
  explicit ChatHarness(HarnessOptions opts) : opts_(std::move(opts)) {}

  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(opts_.dir_prefix) + "-XXXXXX"))
            .string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    open_core();
  }
  void TearDown() override {
    core_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A new core and store over the same file; the old connections are forgotten.
  void open_core(CoreConfig cfg = {}) {
    core_.reset();
    store_.reset();
    peers_.clear();
    std::string err;
    store_ = SqliteStore::open(dir_ + "/chat.db", SyncMode::Normal, err);
    ASSERT_TRUE(store_) << err;
    cfg.kdf_iterations = 1000;
    if (cfg.secret_key.empty()) cfg.secret_key = opts_.secret_key;
    core_ = std::make_unique<ChatCore>(*store_, cfg);
  }

  // The fake hasher: deterministic, instant, and still a function of salt and password.
  static std::string fake_hash(const HashJob& j) {
    return proto::sha256(j.salt + "|" + j.password + "|" + std::to_string(j.iterations));
  }

  // Does what the adapter does at the end of a loop iteration.
  void pump() {
    for (int round = 0; round < 100; round++) {
      core_->flush(now_);
      if (opts_.run_timeouts && now_ >= core_->poll_timeout()) core_->handle_timeout(now_);
      HashJob job;
      bool any = false;
      while (!hold_hashes_ && core_->poll_hash_job(job)) {
        core_->on_hash_done(job.id, fake_hash(job), now_);
        any = true;
      }
      ConnId id;
      std::string bytes;
      while (core_->poll_send(id, bytes)) deliver(id, bytes);
      while (core_->poll_close(id)) {
        peers_[id].closed = true;
        core_->on_close(id);
      }
      if (!any) return;
    }
  }

  void deliver(ConnId id, const std::string& bytes) {
    Peer& p = peers_[id];
    ASSERT_FALSE(p.closed) << "bytes for a closed connection";
    p.decoder.feed(bytes.data(), bytes.size());
    proto::Frame f;
    while (p.decoder.next(f) == proto::DecodeStatus::Ready) {
      p.frames.push_back(Received{f.type, proto::json_parse(f.body), std::string(f.body)});
    }
  }

  ConnId open() {
    ConnId id = next_id_++;
    peers_[id].decoder.set_max_body(opts_.peer_max_body);
    core_->on_open(id, now_);
    return id;
  }
  void raw(ConnId id, std::string_view bytes) {
    core_->on_bytes(id, bytes.data(), bytes.size(), now_);
    pump();
  }
  // Sends one frame; `run` false leaves it for a later pump (one batch of several frames).
  void frame(ConnId id, FrameType t, std::string_view body, bool run = true) {
    std::string out = encoded(t, body);
    core_->on_bytes(id, out.data(), out.size(), now_);
    if (run) pump();
  }
  // A greeted connection; its HELLO challenge goes to `challenge`.
  ConnId greeted(std::string* challenge = nullptr) {
    ConnId id = open();
    frame(id, FrameType::Hello, R"({"proto":1,"agent":"test"})");
    Received h = take(id);
    EXPECT_EQ(h.type, FrameType::Hello);
    if (challenge) *challenge = str(h.body.get(), "challenge");
    return id;
  }
  // Removes and returns the oldest frame a peer received.
  Received take(ConnId id) {
    auto& f = peers_[id].frames;
    if (f.empty()) {
      ADD_FAILURE() << "connection " << id << " received nothing";
      return Received{FrameType::Error, proto::json_object(), ""};
    }
    Received r = std::move(f.front());
    f.erase(f.begin());
    return r;
  }
  size_t pending(ConnId id) { return peers_[id].frames.size(); }
  bool closed(ConnId id) { return peers_[id].closed; }

  // Sends a REQUEST and returns the first RESPONSE that follows; pushes stay queued.
  Received rpc(ConnId id, const std::string& body) {
    frame(id, FrameType::Request, body);
    auto& f = peers_[id].frames;
    for (auto it = f.begin(); it != f.end(); ++it) {
      if (it->type != FrameType::Response) continue;
      Received r = std::move(*it);
      f.erase(it);
      return r;
    }
    return take(id);  // records the failure and returns whatever came (an ERROR)
  }
  // Removes and returns the pushes with this event a connection received, in order.
  std::vector<Received> pushes(ConnId id, const std::string& event) {
    std::vector<Received> out;
    auto& f = peers_[id].frames;
    for (auto it = f.begin(); it != f.end();) {
      if (it->type == FrameType::Push && str(it->body.get(), "event") == event) {
        out.push_back(std::move(*it));
        it = f.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  static std::string code_of(const Received& r) {
    const cJSON* e = cJSON_GetObjectItem(r.body.get(), "error");
    return str(e ? e : r.body.get(), "code");
  }
  static std::string error_text(const Received& r) {
    return str(cJSON_GetObjectItem(r.body.get(), "error"), "message");
  }
  static bool ok(const Received& r) {
    return cJSON_IsTrue(cJSON_GetObjectItem(r.body.get(), "ok"));
  }
  static std::string str(const cJSON* j, const char* k) {
    const cJSON* v = cJSON_GetObjectItem(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
  }
  static uint64_t num(const cJSON* j, const char* k) {
    const cJSON* v = cJSON_GetObjectItem(j, k);
    return cJSON_IsNumber(v) ? static_cast<uint64_t>(v->valuedouble) : 0;
  }
  static const cJSON* get(const cJSON* j, const char* k) { return cJSON_GetObjectItem(j, k); }
  static const cJSON* msg(const Received& r) { return get(r.body.get(), "message"); }
  static std::string encoded(FrameType t, std::string_view body) {
    std::string out;
    proto::encode_frame(out, t, body);
    return out;
  }

  // A connection authenticated as a new user; returns its token through `token`.
  ConnId user(const std::string& name, std::string* token = nullptr) {
    ConnId id = greeted();
    Received r =
        rpc(id, R"({"op":"register","rid":1,"user":")" + name + R"(","password":"correct horse"})");
    EXPECT_TRUE(ok(r)) << r.raw;
    if (token) *token = str(r.body.get(), "token");
    return id;
  }
  ConnId login(const std::string& name) {
    ConnId id = greeted();
    Received r =
        rpc(id, R"({"op":"login","rid":1,"user":")" + name + R"(","password":"correct horse"})");
    EXPECT_TRUE(ok(r)) << r.raw;
    return id;
  }

  HarnessOptions opts_;
  std::string dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ChatCore> core_;
  std::map<ConnId, Peer> peers_;
  ConnId next_id_ = 1;
  int64_t now_ = 1'700'000'000'000;
  bool hold_hashes_ = false;
};

}  // namespace ferry::chat::harness
