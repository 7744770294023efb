// MemoryStateStore: the state store used without a state directory.
#include "sdk/state/memory_store.h"

#include <algorithm>

namespace ferry::sdk {

Session MemoryStateStore::session() {
  std::lock_guard lock(mu_);
  return session_;
}

bool MemoryStateStore::session_held() {
  std::lock_guard lock(mu_);
  return session_.held();
}

bool MemoryStateStore::set_session(const Session& s) {
  std::lock_guard lock(mu_);
  session_ = s;
  return true;
}

uint64_t MemoryStateStore::last_seen() {
  std::lock_guard lock(mu_);
  return last_seen_;
}

bool MemoryStateStore::set_last_seen(uint64_t id) {
  std::lock_guard lock(mu_);
  last_seen_ = std::max(last_seen_, id);
  return true;
}

std::vector<OutboxEntry> MemoryStateStore::outbox() {
  std::lock_guard lock(mu_);
  std::vector<OutboxEntry> all;
  all.reserve(outbox_.size());
  for (const auto& [key, e] : outbox_) all.push_back(e);
  return all;
}

bool MemoryStateStore::outbox_add(OutboxEntry& e) {
  std::lock_guard lock(mu_);
  e.store_key = ++next_key_;
  outbox_.emplace(e.store_key, e);
  return true;
}

// The row is found by store_key; an entry that did not come from outbox_add() (key unknown or
// naming another cid) falls back to a scan by cid.
MemoryStateStore::OutboxMap::iterator MemoryStateStore::find_outbox(const OutboxEntry& entry) {
  auto it = outbox_.find(entry.store_key);
  if (it != outbox_.end() && it->second.cid == entry.cid) return it;
  for (it = outbox_.begin(); it != outbox_.end(); ++it) {
    if (it->second.cid == entry.cid) return it;
  }
  return it;
}

bool MemoryStateStore::outbox_mark_sent(const OutboxEntry& entry, uint64_t server_id) {
  std::lock_guard lock(mu_);
  auto it = find_outbox(entry);
  if (it != outbox_.end()) it->second.server_id = server_id;
  return true;
}

bool MemoryStateStore::outbox_remove(const OutboxEntry& entry) {
  std::lock_guard lock(mu_);
  auto it = find_outbox(entry);
  if (it != outbox_.end()) outbox_.erase(it);
  return true;
}

std::vector<PendingUpload> MemoryStateStore::uploads() {
  std::lock_guard lock(mu_);
  return uploads_;
}

bool MemoryStateStore::upload_get(const std::string& cid, PendingUpload& out) {
  std::lock_guard lock(mu_);
  for (const PendingUpload& u : uploads_) {
    if (u.cid == cid) return out = u, true;
  }
  return false;
}

bool MemoryStateStore::upload_put(const PendingUpload& u) {
  std::lock_guard lock(mu_);
  for (PendingUpload& have : uploads_) {
    if (have.cid == u.cid) return have = u, true;
  }
  uploads_.push_back(u);
  return true;
}

bool MemoryStateStore::upload_set_done(const std::string& cid, uint64_t done) {
  std::lock_guard lock(mu_);
  for (PendingUpload& u : uploads_) {
    if (u.cid == cid) u.done = done;
  }
  return true;
}

bool MemoryStateStore::upload_remove(const std::string& cid) {
  std::lock_guard lock(mu_);
  std::erase_if(uploads_, [&](const PendingUpload& u) { return u.cid == cid; });
  return true;
}

bool MemoryStateStore::reset(const Session& s) {
  std::lock_guard lock(mu_);
  session_ = s;
  last_seen_ = 0;
  outbox_.clear();
  uploads_.clear();
  downloads_.clear();
  return true;
}

std::vector<PendingDownload> MemoryStateStore::downloads() {
  std::lock_guard lock(mu_);
  return downloads_;
}

bool MemoryStateStore::download_get(uint64_t id, PendingDownload& out) {
  std::lock_guard lock(mu_);
  for (const PendingDownload& d : downloads_) {
    if (d.message_id == id) return out = d, true;
  }
  return false;
}

bool MemoryStateStore::download_put(const PendingDownload& d) {
  std::lock_guard lock(mu_);
  for (PendingDownload& have : downloads_) {
    if (have.message_id == d.message_id) return have = d, true;
  }
  downloads_.push_back(d);
  return true;
}

bool MemoryStateStore::download_remove(uint64_t id) {
  std::lock_guard lock(mu_);
  std::erase_if(downloads_, [&](const PendingDownload& d) { return d.message_id == id; });
  return true;
}

}  // namespace ferry::sdk
