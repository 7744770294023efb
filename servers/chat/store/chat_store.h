// ChatStore: the chat server's persistence boundary. The core talks only to this interface, so
// the SQLite implementation (sqlite_store.cpp) can later be joined by PostgreSQL or a simulated
// store without touching core/. Every call is synchronous and fast (indexed, prepared); the one
// write on the hot path, put_messages(), takes a whole batch so it costs one commit per loop
// iteration rather than one per message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::chat {

enum class StoreStatus {
  Ok,
  NotFound,
  Exists,  // a unique constraint refused the write (user name taken)
  Failed,  // the engine failed (disk full, I/O error); last_error() says why
};

struct UserRecord {
  uint64_t id = 0;
  std::string name;
  std::string salt;  // raw bytes
  std::string hash;  // raw PBKDF2 output
  uint32_t iterations = 0;
};

struct StoredMessage {
  uint64_t id = 0;
  uint64_t sender = 0;
  uint64_t receiver = 0;
  std::string cid;
  std::string kind;
  std::string text;
  int64_t ts = 0;  // commit time, ms since the Unix epoch
};

struct NewMessage {
  uint64_t sender = 0;
  uint64_t receiver = 0;
  std::string cid;
  std::string kind;
  std::string text;
};

// What happened to one message of a put_messages() batch.
enum class PutResult {
  Inserted,   // stored now with a fresh id
  Duplicate,  // (sender, cid) already stored with the same receiver and text: the original
  Conflict,   // (sender, cid) already stored for a different message
};

struct PutOutcome {
  PutResult result = PutResult::Inserted;
  StoredMessage message;  // the stored message (the original one for Duplicate/Conflict)
};

class ChatStore {
 public:
  virtual ~ChatStore() = default;

  virtual StoreStatus create_user(const std::string& name, const std::string& salt,
                                  const std::string& hash, uint32_t iterations,
                                  uint64_t& id_out) = 0;
  virtual StoreStatus find_user_by_name(const std::string& name, UserRecord& out) = 0;
  virtual StoreStatus find_user_by_id(uint64_t id, UserRecord& out) = 0;

  // Sessions are keyed by the SHA-256 of the token: a stolen database yields no usable token.
  virtual StoreStatus create_session(const std::string& token_hash, uint64_t user_id,
                                     int64_t now_ms) = 0;
  virtual StoreStatus find_session(const std::string& token_hash, uint64_t& user_id_out) = 0;
  virtual StoreStatus delete_session(const std::string& token_hash) = 0;

  // Stores the batch in ONE transaction, all or nothing; `out` gets one outcome per input, in
  // order. Fresh ids are assigned in batch order, so they ascend along the batch.
  virtual StoreStatus put_messages(const std::vector<NewMessage>& batch, int64_t ts,
                                   std::vector<PutOutcome>& out) = 0;

  // Messages the user sent or received with id > since, ascending, at most `limit`.
  virtual StoreStatus sync(uint64_t user, uint64_t since, uint32_t limit,
                           std::vector<StoredMessage>& out, bool& more) = 0;
  // The newest `limit` messages between a and b with id < before (0 = no bound), ascending.
  virtual StoreStatus history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                              std::vector<StoredMessage>& out, bool& more) = 0;

  virtual const std::string& last_error() const = 0;
};

}  // namespace ferry::chat
