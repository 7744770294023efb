// Plain data shared by the client core, its state store and the API layer. No behaviour here:
// the core (client_core.h) owns the rules, the API (sdk/api/) converts these to ferry.h structs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sdk {

// What a media message carries besides its status (docs/protocol.md "MESSAGE object for
// media"). The thumbnail is held decoded (JPEG bytes), never as base64.
struct MediaMeta {
  int kind = 0;  // ferry_media_kind
  std::string name;
  uint64_t size = 0;
  std::string mime;
  std::string sha256;  // 64 lowercase hex
  uint32_t width = 0;
  uint32_t height = 0;
  uint64_t duration_ms = 0;
  std::string thumb;  // JPEG bytes; empty = none
  uint64_t progress = 0;  // bytes the resource server holds durably, as last known
};

// A chat message as the server describes it (docs/protocol.md "MESSAGE object").
struct Message {
  uint64_t id = 0;  // server id; 0 while pending
  std::string cid;  // sender's unique id (ferry.h calls it local_id)
  std::string from;
  std::string to;
  std::string kind = "text";
  std::string text;
  int64_t ts_ms = 0;
  int status = 0;  // ferry_msg_status
  bool has_media = false;
  MediaMeta media;  // when has_media
};

// What the state store remembers about who is logged in. An empty token means "no session",
// but `user` may stay set so that logging in again as the same user keeps the outbox and the
// sync position (the server still holds those messages for that user).
struct Session {
  std::string user;
  uint64_t user_id = 0;
  std::string token;
  bool held() const { return !token.empty(); }
};

// One message of the outbox. `server_id` is 0 until the server acknowledged it; acknowledged
// entries are kept until the sync position passes them, so that a later sync recognises them
// as our own (already reported) sends instead of new messages. This client's media messages
// are kept the same way once the server stored them (empty text, server_id set at once):
// they are never sent from here, only recognised.
struct OutboxEntry {
  std::string cid;
  std::string to;
  std::string text;
  int64_t created_ms = 0;
  uint64_t server_id = 0;
  int64_t store_key = 0;  // the store's handle for the row (SQLite rowid); set by outbox_add
};

// One media upload this client started and has not finished (ferry_send_file). Everything
// an app restart needs to continue it: the file's identity at send time (a change fails the
// upload rather than storing a corrupt file), what probing and hashing found (so a restart
// neither re-hashes nor changes the message), and the server's id once it stored the message.
struct PendingUpload {
  std::string cid;  // local id; also send_media's idempotency key
  std::string to;
  std::string path;
  std::string name;  // display name
  int kind = 0;  // ferry_media_kind; AUTO until prepared
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  // 64 hex; empty until hashed. A large file is sent "hash later": probed, announced and
  // uploaded while a worker hashes it, then bound (bind_hash).
  std::string sha256;
  std::string mime;
  uint32_t width = 0;
  uint32_t height = 0;
  uint64_t duration_ms = 0;
  std::string thumb;  // JPEG bytes
  uint64_t message_id = 0;  // 0 until the chat server stored the message
  uint64_t done = 0;  // bytes the resource server held durably, as last known
  bool paused = false;
  bool cancelled = false;  // the app cancelled; the server has not confirmed yet
  int64_t created_ms = 0;
  // Probed (MIME type, dimensions, thumbnail): the message can be announced. Probing always
  // names a MIME type, if only application/octet-stream.
  bool prepared() const { return !mime.empty(); }
};

// The message an outbox entry will become, for status events about a send the server never
// stored (id and ts stay 0).
inline Message message_from_outbox(const OutboxEntry& e, const std::string& from) {
  Message m;
  m.cid = e.cid;
  m.from = from;
  m.to = e.to;
  m.text = e.text;
  return m;
}

// A signed download URL as the chat server grants it (docs/protocol-download.md section 2).
struct DownloadUrl {
  std::string url;
  std::string ticket;
  int64_t expires_ms = 0;
  uint64_t size = 0;
  std::string sha256;
  std::string name;
  std::string mime;
};

// An event from the core, in C++ form. The API layer flattens it into one ferry_event_t block.
struct Event {
  int type = 0;    // ferry_event_type
  int status = 0;  // FERRY_OK or a negative ferry_err
  uint64_t request_id = 0;
  std::string detail;
  int conn_state = 0;             // CONNECTION
  std::string user;               // AUTH
  uint64_t user_id = 0;           // AUTH
  Message message;                // MESSAGE, MESSAGE_STATUS
  std::string peer;               // HISTORY
  std::vector<Message> messages;  // HISTORY, ascending
  bool more = false;              // HISTORY
  // UPLOAD_PROGRESS (message.cid / message.id name the message)
  uint64_t done = 0;
  uint64_t total = 0;
  bool outgoing = false;
  // DOWNLOAD_PROGRESS / DOWNLOAD_STATUS (message.id names the message; done/total above)
  int download_state = 0;  // ferry_download_state
  std::string path;
  // DOWNLOAD_URL (message.id names the message)
  DownloadUrl url;
};

}  // namespace ferry::sdk
