// A StateStore for the SDK's sans-I/O unit tests: plain containers, single-threaded like the
// tests, with everything public so a test can look at (or prepare) what the core stored.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "sdk/core/state_store.h"

namespace ferry::sdk {

class FakeStore final : public StateStore {
 public:
  Session session() override { return session_; }
  bool set_session(const Session& s) override { return session_ = s, true; }
  std::string resource_hint() override { return hint_; }
  bool set_resource_hint(const std::string& a) override { return hint_ = a, true; }
  uint64_t last_seen() override { return last_seen_; }
  bool set_last_seen(uint64_t id) override { return last_seen_ = std::max(last_seen_, id), true; }
  std::vector<OutboxEntry> outbox() override { return outbox_; }
  bool outbox_add(OutboxEntry& e) override { return outbox_.push_back(e), true; }
  bool outbox_mark_sent(const OutboxEntry& entry, uint64_t id) override {
    for (OutboxEntry& e : outbox_) {
      if (e.cid == entry.cid) e.server_id = id;
    }
    return true;
  }
  bool outbox_remove(const OutboxEntry& entry) override {
    std::erase_if(outbox_, [&](const OutboxEntry& e) { return e.cid == entry.cid; });
    return true;
  }
  std::vector<PendingUpload> uploads() override { return uploads_; }
  bool upload_get(const std::string& cid, PendingUpload& out) override {
    for (const PendingUpload& u : uploads_) {
      if (u.cid == cid) return out = u, true;
    }
    return false;
  }
  bool upload_put(const PendingUpload& u) override {
    for (PendingUpload& have : uploads_) {
      if (have.cid == u.cid) return have = u, true;
    }
    uploads_.push_back(u);
    return true;
  }
  bool upload_set_done(const std::string& cid, uint64_t done) override {
    for (PendingUpload& u : uploads_) {
      if (u.cid == cid) u.done = done;
    }
    return true;
  }
  bool upload_remove(const std::string& cid) override {
    std::erase_if(uploads_, [&](const PendingUpload& u) { return u.cid == cid; });
    return true;
  }
  bool reset(const Session& s) override {
    session_ = s;
    last_seen_ = 0;
    outbox_.clear();
    uploads_.clear();
    return true;
  }

  Session session_;
  std::string hint_;
  uint64_t last_seen_ = 0;
  std::vector<OutboxEntry> outbox_;
  std::vector<PendingUpload> uploads_;
};

}  // namespace ferry::sdk
