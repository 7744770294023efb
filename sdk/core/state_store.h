// Where the client keeps what must survive a restart: the session, the highest message id
// delivered to the app (the sync position), the outbox and pending media uploads. The core
// only talks to this interface; sdk/state/sqlite_store.* keeps it in `ferry-state.db`, sdk/state/memory_store.h
// keeps it in memory when the app gave no state directory.
//
// Threads: implementations are safe to call from any thread. The API layer writes outbox
// entries from app threads (so ferry_send_text() returns only once the entry is stored) while
// the core updates everything else from the loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sdk/core/types.h"

namespace ferry::sdk {

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual Session session() = 0;
  // session().held() without copying the session (checked on every send).
  virtual bool session_held() { return session().held(); }
  virtual bool set_session(const Session& s) = 0;
  virtual uint64_t last_seen() = 0;
  // Never moves backwards: two processes sharing a state directory may race here.
  virtual bool set_last_seen(uint64_t id) = 0;
  // Oldest first.
  virtual std::vector<OutboxEntry> outbox() = 0;
  // Fills e.store_key, which mark/remove use to find the row without an index on cid. Stores
  // e.server_id as given: 0 for a new send; the core adds this client's media messages
  // already acknowledged (no text), so a later sync recognises them as its own.
  virtual bool outbox_add(OutboxEntry& e) = 0;
  virtual bool outbox_mark_sent(const OutboxEntry& e, uint64_t server_id) = 0;
  virtual bool outbox_remove(const OutboxEntry& e) = 0;
  // Pending media uploads (ferry_send_file), oldest first. upload_put inserts or replaces
  // the record with the same cid; upload_set_done only moves `done` (frequent, cheap).
  virtual std::vector<PendingUpload> uploads() = 0;
  virtual bool upload_get(const std::string& cid, PendingUpload& out) = 0;
  virtual bool upload_put(const PendingUpload& u) = 0;
  virtual bool upload_set_done(const std::string& cid, uint64_t done) = 0;
  virtual bool upload_remove(const std::string& cid) = 0;

  // Replaces the session and forgets the sync position, the outbox and pending uploads
  // (another user logged in, or logout).
  virtual bool reset(const Session& s) = 0;

  // The resource server's address the chat server named last ("" if none): the next process
  // dials it while its first send_media is on the way. The deployment's, not the user's, so
  // reset() keeps it. A store that keeps nothing across processes need not hold it.
  virtual std::string resource_hint() { return {}; }
  virtual bool set_resource_hint(const std::string& address) {
    (void)address;
    return true;
  }

  // Brackets a burst of writes from one input (one read of the socket) so a durable store can
  // commit them together. Nesting is not supported; the default does nothing.
  virtual void batch_begin() {}
  virtual void batch_end() {}
};

}  // namespace ferry::sdk
