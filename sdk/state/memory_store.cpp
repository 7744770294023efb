// MemoryStateStore: the state store used without a state directory.
#include "sdk/state/memory_store.h"

#include <algorithm>

namespace ferry::sdk {

Session MemoryStateStore::session() {
  std::lock_guard lock(mu_);
  return session_;
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
  return outbox_;
}

bool MemoryStateStore::outbox_add(OutboxEntry& e) {
  std::lock_guard lock(mu_);
  outbox_.push_back(e);
  return true;
}

bool MemoryStateStore::outbox_mark_sent(const OutboxEntry& entry, uint64_t server_id) {
  std::lock_guard lock(mu_);
  for (OutboxEntry& e : outbox_) {
    if (e.cid == entry.cid) e.server_id = server_id;
  }
  return true;
}

bool MemoryStateStore::outbox_remove(const OutboxEntry& entry) {
  std::lock_guard lock(mu_);
  std::erase_if(outbox_, [&](const OutboxEntry& e) { return e.cid == entry.cid; });
  return true;
}

bool MemoryStateStore::reset(const Session& s) {
  std::lock_guard lock(mu_);
  session_ = s;
  last_seen_ = 0;
  outbox_.clear();
  return true;
}

}  // namespace ferry::sdk
