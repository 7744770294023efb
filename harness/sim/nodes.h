// The three kinds of node, each the real sans-I/O core plus the few lines of adapter the
// libuv build has (servers/chat/uv, servers/resource/uv, sdk/uv), written against the
// simulated network, disk and clock instead. Each node splits into what survives a crash
// (the chat store, resd's FakeDisk, the client's state store and files) and the core, which
// a crash destroys and a restart rebuilds from that durable state.
//
// Adapter duties that are NOT modelled: resd's read back-pressure (wants_read) and zero-copy
// reads (read_window), chatd's slow-consumer bound; the SDK's download side.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/sim/chat_store_mem.h"
#include "harness/sim/checker.h"
#include "harness/sim/disk.h"
#include "harness/sim/net.h"
#include "harness/sim/prng.h"
#include "harness/sim/sources.h"
#include "harness/sim/trace.h"
#include "harness/sim/workload.h"
#include "sdk/core/client_core.h"
#include "sdk/state/memory_store.h"
#include "servers/chat/core/chat_core.h"
#include "servers/resource/core/resd_core.h"

namespace ferry::sim {

// What every node shares: the world's network, randomness, trace, checker and files.
struct Env {
  Network& net;
  Prng& rng;
  Trace& trace;
  Checker& checker;
  Sources& sources;
  std::string key;  // the HMAC key chatd signs tickets with and resd checks them with
  // Every upload goes "hash later" (announced and sent before its hash, bound afterwards);
  // otherwise every one is hashed first. Chosen by the seed, not drawn from the PRNG, so the
  // other seeds' runs stay what they were.
  bool hash_later = false;
};

class ChatNode {
 public:
  explicit ChatNode(Env& env) : env_(env) {}
  bool up() const { return core_ != nullptr; }
  void start(int64_t now);
  void crash(bool silent, int64_t now);
  void on_net(const NetEvent& e, int64_t now);
  int64_t next_timeout() const;
  void on_timer(int64_t now);
  void pump(int64_t now);
  const MemChatStore& store() const { return store_; }

 private:
  Env& env_;
  MemChatStore store_;  // durable
  std::unique_ptr<chat::ChatCore> core_;
};

class ResdNode {
 public:
  explicit ResdNode(Env& env) : env_(env), disk_(env.sources, env.rng) {}
  bool up() const { return core_ != nullptr; }
  void start(int64_t now);
  void crash(bool silent, int64_t now);
  void on_net(const NetEvent& e, int64_t now);
  int64_t next_timeout() const;
  void on_timer(int64_t now);
  void pump(int64_t now);
  const FakeDisk& disk() const { return disk_; }
  void set_disk_error_rate(double p) { disk_.set_error_rate(p); }

 private:
  Env& env_;
  FakeDisk disk_;  // durable
  std::unique_ptr<resource::ResdCore> core_;
  LinkId link_ = 0;  // the chat link's connection, 0 = none
};

class ClientNode {
 public:
  // `login`: the user exists already (a second device), so log in rather than register.
  ClientNode(Env& env, int index, std::string user, bool login)
      : env_(env),
        index_(index),
        node_(kFirstClient + index),
        user_(std::move(user)),
        login_(login) {}
  bool up() const { return core_ != nullptr; }
  bool authenticated() const { return authenticated_; }
  void start(int64_t now);
  void crash(bool silent, int64_t now);
  void submit_text(const TextPlan& t, const std::string& to, int64_t now);
  void submit_upload(const UploadPlan& u, const std::string& to, int64_t now);
  void on_net(const NetEvent& e, int64_t now);
  int64_t next_timeout() const;
  void on_timer(int64_t now);
  void pump(int64_t now);

 private:
  bool pump_uploads(int64_t now);
  void flush_lane(uint32_t lane, int64_t now);
  void trace(int64_t now, const std::string& what);

  Env& env_;
  int index_;
  NodeId node_;
  std::string user_;
  sdk::MemoryStateStore store_;  // durable: a restart keeps it, as the SQLite file would be
  std::map<std::string, std::string> files_;  // path -> sha256 hex (the client's disk)
  // Hash jobs of hash-later uploads and the pumps left before each one "finishes", so the
  // hash arrives at varied points of the upload (before or after the announce, mid-send).
  struct HashJob {
    std::string cid, path;
    int pumps_left = 0;
  };
  std::vector<HashJob> hashing_;
  std::unique_ptr<sdk::ClientCore> core_;
  LinkId chat_ = 0;  // chat connection, 0 = none
  // Resource connections by lane (UploadManager lanes: lane 0 first, then the extra lanes
  // its LaneController asks for); 0 = none.
  std::vector<LinkId> res_;
  bool login_ = false;
  bool registered_ = false;
  bool authenticated_ = false;
};

}  // namespace ferry::sim
