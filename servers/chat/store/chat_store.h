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

// A message's lifecycle (docs/protocol.md section 6). Text messages are always Sent; a media
// message starts Uploading (or Ready at once by instant send) and ends Ready, Cancelled or
// Failed. Only Uploading ever changes.
enum class MessageStatus { Sent, Uploading, Ready, Cancelled, Failed };
inline const char* message_status_name(MessageStatus s) {
  switch (s) {
    case MessageStatus::Sent:
      return "sent";
    case MessageStatus::Uploading:
      return "uploading";
    case MessageStatus::Ready:
      return "ready";
    case MessageStatus::Cancelled:
      return "cancelled";
    case MessageStatus::Failed:
      return "failed";
  }
  return "sent";
}

// The metadata of a media message, as the sender announced it. `thumb` holds raw JPEG bytes.
struct MediaInfo {
  std::string name;
  uint64_t size = 0;
  std::string mime;
  std::string sha256;  // 64 lowercase hex digits
  uint64_t width = 0;
  uint64_t height = 0;
  uint64_t duration_ms = 0;
  std::string thumb;
};

struct StoredMessage {
  uint64_t id = 0;
  uint64_t sender = 0;
  uint64_t receiver = 0;
  std::string cid;
  std::string kind;
  std::string text;  // empty for media messages
  int64_t ts = 0;    // commit time, ms since the Unix epoch
  MessageStatus status = MessageStatus::Sent;
  uint64_t progress = 0;  // media: bytes the resource server holds (last relayed value)
  bool has_media = false;
  MediaInfo media;
};

struct NewMessage {
  uint64_t sender = 0;
  uint64_t receiver = 0;
  std::string cid;
  std::string kind;
  std::string text;
  bool has_media = false;  // then stored Uploading, or Ready by instant send
  MediaInfo media;
};

// True when `b` repeats the send that stored `a` (same receiver and content), so a retry with
// its cid gets the original back. The hash counts only when both sides have one: a file sent
// "hash later" may be announced again, after an app restart, with the hash it learnt since
// (bind_hash then binds it), or without it after the server bound it.
inline bool same_send(const StoredMessage& a, const NewMessage& b) {
  if (a.receiver != b.receiver || a.kind != b.kind || a.text != b.text ||
      a.has_media != b.has_media) {
    return false;
  }
  if (!a.has_media) return true;
  bool hashes_agree =
      a.media.sha256.empty() || b.media.sha256.empty() || a.media.sha256 == b.media.sha256;
  return a.media.name == b.media.name && a.media.size == b.media.size && hashes_agree;
}

// What happened to one message of a put_messages() batch.
enum class PutResult {
  Inserted,   // stored now with a fresh id
  Duplicate,  // (sender, cid) already stored with the same receiver and content: the original
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
  // order. Fresh ids are assigned in batch order, so they ascend along the batch. A media
  // message is stored Uploading, or Ready with progress = size when the same sender already
  // has a Ready media message with the same sha256 and size (instant send); text messages
  // cost no extra query.
  virtual StoreStatus put_messages(const std::vector<NewMessage>& batch, int64_t ts,
                                   std::vector<PutOutcome>& out) = 0;

  // Messages the user sent or received with id > since, ascending, at most `limit`.
  virtual StoreStatus sync(uint64_t user, uint64_t since, uint32_t limit,
                           std::vector<StoredMessage>& out, bool& more) = 0;
  // The newest `limit` messages between a and b with id < before (0 = no bound), ascending.
  virtual StoreStatus history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                              std::vector<StoredMessage>& out, bool& more) = 0;

  // One message by id (any status).
  virtual StoreStatus find_message(uint64_t id, StoredMessage& out) = 0;
  // Moves an Uploading media message to `to` (Ready, Cancelled or Failed) at `now_ms`; Ready
  // also sets progress to the size. NotFound when the message is not (or no longer) Uploading.
  virtual StoreStatus finish_upload(uint64_t id, MessageStatus to, int64_t now_ms) = 0;
  // Raises the progress of an Uploading message (never lowers it). NotFound when nothing
  // changed.
  virtual StoreStatus set_progress(uint64_t id, uint64_t progress) = 0;
  // Gives an Uploading media message sent without its hash ("hash later", sha256 "") its
  // sha256, in one transaction with the instant-send check: when the sender already has a
  // Ready media message with that sha256 and size, the message becomes Ready at `now_ms`
  // (progress = size). `out` is the message afterwards. NotFound when it is not Uploading
  // or already has a hash (the caller looks at the message to say which).
  virtual StoreStatus bind_hash(uint64_t id, const std::string& sha256, int64_t now_ms,
                                StoredMessage& out) = 0;
  // Ids of messages cancelled at or after `since_ms`, ascending.
  virtual StoreStatus cancelled_since(int64_t since_ms, std::vector<uint64_t>& ids) = 0;

  virtual const std::string& last_error() const = 0;
};

}  // namespace ferry::chat
