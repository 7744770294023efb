// MemoryStateStore: the StateStore used without a state directory. Nothing survives the
// process. Thread-safe (a mutex), like every StateStore.
#pragma once

#include <map>
#include <mutex>

#include "sdk/core/download_store.h"
#include "sdk/core/state_store.h"

namespace ferry::sdk {

class MemoryStateStore final : public StateStore, public DownloadStore {
 public:
  Session session() override;
  bool session_held() override;
  bool set_session(const Session& s) override;
  uint64_t last_seen() override;
  bool set_last_seen(uint64_t id) override;
  std::vector<OutboxEntry> outbox() override;
  bool outbox_add(OutboxEntry& e) override;
  bool outbox_mark_sent(const OutboxEntry& e, uint64_t server_id) override;
  bool outbox_remove(const OutboxEntry& e) override;
  std::vector<PendingUpload> uploads() override;
  bool upload_get(const std::string& cid, PendingUpload& out) override;
  bool upload_put(const PendingUpload& u) override;
  bool upload_set_done(const std::string& cid, uint64_t done) override;
  bool upload_remove(const std::string& cid) override;
  bool reset(const Session& s) override;
  std::vector<PendingDownload> downloads() override;
  bool download_get(uint64_t message_id, PendingDownload& out) override;
  bool download_put(const PendingDownload& d) override;
  bool download_remove(uint64_t message_id) override;

 private:
  using OutboxMap = std::map<int64_t, OutboxEntry>;
  OutboxMap::iterator find_outbox(const OutboxEntry& e);  // caller holds mu_

  std::mutex mu_;
  Session session_;
  uint64_t last_seen_ = 0;
  // Keyed by the store_key outbox_add() hands out (rising, so the map keeps send order):
  // mark/remove are O(log n) rather than a scan of every unacknowledged send.
  OutboxMap outbox_;
  int64_t next_key_ = 0;
  std::vector<PendingUpload> uploads_;      // oldest first
  std::vector<PendingDownload> downloads_;  // oldest first
};

}  // namespace ferry::sdk
