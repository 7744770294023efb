// MemChatStore: ChatStore in memory, standing for the SQLite store in the simulator. It is the
// chat server's durable state: the world keeps it across a chat-server crash and builds a new
// ChatCore over it, so a restart sees exactly what was committed (every call here is one
// committed transaction, as with SQLite's synchronous=FULL; what ChatCore has not yet flushed
// in its group-commit batch is lost with the core). SqliteStore itself is not used because it
// runs a checkpointer thread, and the simulator runs no threads.
//
// Semantics follow servers/chat/store/sqlite_store.cpp: (sender, cid) is unique (a retry with
// the same content is Duplicate, other content is Conflict); a media message from a sender
// who already has a Ready one with the same sha256 and size is stored Ready (instant send).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "servers/chat/store/chat_store.h"

namespace ferry::sim {

class MemChatStore final : public chat::ChatStore {
 public:
  using StoreStatus = chat::StoreStatus;

  StoreStatus create_user(const std::string& name, const std::string& salt, const std::string& hash,
                          uint32_t iterations, uint64_t& id_out) override;
  StoreStatus find_user_by_name(const std::string& name, chat::UserRecord& out) override;
  StoreStatus find_user_by_id(uint64_t id, chat::UserRecord& out) override;
  StoreStatus create_session(const std::string& token_hash, uint64_t user_id,
                             int64_t now_ms) override;
  StoreStatus find_session(const std::string& token_hash, uint64_t& user_id_out) override;
  StoreStatus delete_session(const std::string& token_hash) override;
  StoreStatus put_messages(const std::vector<chat::NewMessage>& batch, int64_t ts,
                           std::vector<chat::PutOutcome>& out) override;
  StoreStatus sync(uint64_t user, uint64_t since, uint32_t limit,
                   std::vector<chat::StoredMessage>& out, bool& more) override;
  StoreStatus history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                      std::vector<chat::StoredMessage>& out, bool& more) override;
  StoreStatus find_message(uint64_t id, chat::StoredMessage& out) override;
  StoreStatus finish_upload(uint64_t id, chat::MessageStatus to, int64_t now_ms) override;
  StoreStatus set_progress(uint64_t id, uint64_t progress) override;
  StoreStatus cancelled_since(int64_t since_ms, std::vector<uint64_t>& ids) override;
  StoreStatus bind_hash(uint64_t id, const std::string& sha256, int64_t now_ms,
                        chat::StoredMessage& out) override;
  const std::string& last_error() const override { return error_; }

  // For the checker: every stored message, by id (ascending = server order).
  const std::map<uint64_t, chat::StoredMessage>& messages() const { return messages_; }
  uint64_t user_id(const std::string& name) const;

 private:
  // Instant send: `sender` already has a Ready message with these bytes (sha256 and size).
  bool ready_copy(uint64_t sender, const chat::MediaInfo& media) const;

  std::map<uint64_t, chat::UserRecord> users_;
  std::map<std::string, uint64_t> sessions_;  // token hash -> user
  std::map<uint64_t, chat::StoredMessage> messages_;
  std::map<std::pair<uint64_t, std::string>, uint64_t> by_cid_;  // (sender, cid) -> id
  std::map<uint64_t, int64_t> status_ms_;                        // id -> when it left Uploading
  uint64_t next_user_ = 1;
  uint64_t next_message_ = 1;
  std::string error_;
};

}  // namespace ferry::sim
