// SqliteStore (see sqlite_store.h): schema, migrations and the prepared queries.
#include "servers/chat/store/sqlite_store.h"

#include <algorithm>
#include <cstdint>

namespace ferry::chat {

namespace {

// Schema version 1. Conversations are keyed by (lo, hi) = (min, max) of the two user ids so both
// directions share one index range; (sender, id) and (receiver, id) serve sync as two ordered
// index scans merged by a UNION ALL, which stays O(limit) however many rows the table holds.
const char* const kSchemaV1 = R"sql(
CREATE TABLE users(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  salt BLOB NOT NULL,
  hash BLOB NOT NULL,
  iterations INTEGER NOT NULL);
CREATE TABLE sessions(
  token_hash BLOB PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE messages(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sender INTEGER NOT NULL,
  receiver INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL,
  cid TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  ts INTEGER NOT NULL,
  UNIQUE(sender, cid));
CREATE INDEX idx_msg_sender ON messages(sender, id);
CREATE INDEX idx_msg_receiver ON messages(receiver, id);
CREATE INDEX idx_msg_conv ON messages(lo, hi, id);
)sql";

// Schema version 2: media messages (docs/protocol.md section 6). The media columns live in
// the messages row rather than a side table so that sync and history stay one index scan and
// the instant-send index can cover (sender, sha256, size). They are NULL for text rows, which
// costs SQLite one header byte each; ADD COLUMN with a constant default rewrites nothing, so
// the migration is instant however many messages exist. The thumbnail is the last column:
// SQLite stops decoding a row at the last column asked for, and it is NULL for text anyway.
// Partial indexes keep both lookups small: only ready media rows, only cancelled rows.
const char* const kSchemaV2 = R"sql(
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'sent';
ALTER TABLE messages ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN media_name TEXT;
ALTER TABLE messages ADD COLUMN media_size INTEGER;
ALTER TABLE messages ADD COLUMN media_mime TEXT;
ALTER TABLE messages ADD COLUMN media_sha256 TEXT;
ALTER TABLE messages ADD COLUMN media_width INTEGER;
ALTER TABLE messages ADD COLUMN media_height INTEGER;
ALTER TABLE messages ADD COLUMN media_duration_ms INTEGER;
ALTER TABLE messages ADD COLUMN media_thumb BLOB;
CREATE INDEX idx_msg_ready ON messages(sender, media_sha256, media_size) WHERE status = 'ready';
CREATE INDEX idx_msg_cancelled ON messages(status_ms) WHERE status = 'cancelled';
)sql";

const char* const kMsgColumns =
    "id, sender, receiver, cid, kind, text, ts, status, progress, media_name, media_size, "
    "media_mime, media_sha256, media_width, media_height, media_duration_ms, media_thumb";

// Schema version 3: fewer B-tree pages per message. Every index on messages costs a page
// written to the WAL (and later copied by a checkpoint) per message, and at 10k msgs/s most
// commits hold one or two messages, so the per-commit pages count too. Measured on a paced
// 10k msgs/s run (docs/benchmarks.md), each change cut p99 send->push latency:
// - sync walks the user's conversations instead of two per-user indexes (the tails of
//   idx_msg_sender and idx_msg_receiver were two of the ~four pages each message dirtied).
//   The conversations table gains rows only when two users first talk; sync() merges the
//   user's conversations through idx_msg_conv.
// - messages loses AUTOINCREMENT, whose sqlite_sequence row was one more page per commit. A
//   new id is then max(id) + 1, which still only grows because messages are never deleted
//   (cancelled and failed ones keep their rows).
// The table is rebuilt once, so the upgrade takes time and free space in proportion to it.
const char* const kSchemaV3 = R"sql(
CREATE TABLE conversations(
  user INTEGER NOT NULL,
  peer INTEGER NOT NULL,
  PRIMARY KEY(user, peer)) WITHOUT ROWID;
INSERT OR IGNORE INTO conversations(user, peer)
  SELECT sender, receiver FROM messages UNION SELECT receiver, sender FROM messages;
CREATE TABLE messages_v3(
  id INTEGER PRIMARY KEY,
  sender INTEGER NOT NULL,
  receiver INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL,
  cid TEXT NOT NULL,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  ts INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'sent',
  status_ms INTEGER NOT NULL DEFAULT 0,
  progress INTEGER NOT NULL DEFAULT 0,
  media_name TEXT,
  media_size INTEGER,
  media_mime TEXT,
  media_sha256 TEXT,
  media_width INTEGER,
  media_height INTEGER,
  media_duration_ms INTEGER,
  media_thumb BLOB,
  UNIQUE(sender, cid));
INSERT INTO messages_v3 SELECT id, sender, receiver, lo, hi, cid, kind, text, ts, status,
  status_ms, progress, media_name, media_size, media_mime, media_sha256, media_width,
  media_height, media_duration_ms, media_thumb FROM messages ORDER BY id;
DROP TABLE messages;
DELETE FROM sqlite_sequence WHERE name = 'messages';
ALTER TABLE messages_v3 RENAME TO messages;
CREATE INDEX idx_msg_conv ON messages(lo, hi, id);
CREATE INDEX idx_msg_ready ON messages(sender, media_sha256, media_size) WHERE status = 'ready';
CREATE INDEX idx_msg_cancelled ON messages(status_ms) WHERE status = 'cancelled';
)sql";

// Migration steps: kSteps[v] moves a database from user_version v to v + 1.
const char* const kSteps[] = {kSchemaV1, kSchemaV2, kSchemaV3};

MessageStatus status_from_name(const std::string& s) {
  if (s == "uploading") return MessageStatus::Uploading;
  if (s == "ready") return MessageStatus::Ready;
  if (s == "cancelled") return MessageStatus::Cancelled;
  if (s == "failed") return MessageStatus::Failed;
  return MessageStatus::Sent;
}

// Resets a statement when the scope ends so no query leaves a read transaction open.
struct StmtScope {
  sqlite3_stmt* st;
  ~StmtScope() {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
};

void bind_blob(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_blob(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}
void bind_text(sqlite3_stmt* st, int i, const std::string& s) {
  sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
}
std::string column_string(sqlite3_stmt* st, int i) {
  const void* p = sqlite3_column_blob(st, i);
  int n = sqlite3_column_bytes(st, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
int64_t to_i64(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

void read_message_row(sqlite3_stmt* st, StoredMessage& m) {
  m.id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  m.sender = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
  m.receiver = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
  m.cid = column_string(st, 3);
  m.kind = column_string(st, 4);
  m.text = column_string(st, 5);
  m.ts = sqlite3_column_int64(st, 6);
  m.status = status_from_name(column_string(st, 7));
  m.progress = static_cast<uint64_t>(sqlite3_column_int64(st, 8));
  m.has_media = sqlite3_column_type(st, 12) != SQLITE_NULL;
  m.media = MediaInfo{};
  if (!m.has_media) return;
  m.media.name = column_string(st, 9);
  m.media.size = static_cast<uint64_t>(sqlite3_column_int64(st, 10));
  m.media.mime = column_string(st, 11);
  m.media.sha256 = column_string(st, 12);
  m.media.width = static_cast<uint64_t>(sqlite3_column_int64(st, 13));
  m.media.height = static_cast<uint64_t>(sqlite3_column_int64(st, 14));
  m.media.duration_ms = static_cast<uint64_t>(sqlite3_column_int64(st, 15));
  m.media.thumb = column_string(st, 16);
}

}  // namespace

std::unique_ptr<SqliteStore> SqliteStore::open(const std::string& path, SyncMode mode,
                                               std::string& err) {
  std::unique_ptr<SqliteStore> s(new SqliteStore());
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &s->db_, flags, nullptr) != SQLITE_OK) {
    err = "cannot open " + path + ": " + (s->db_ ? sqlite3_errmsg(s->db_) : "out of memory");
    return nullptr;
  }
  // The server is the only writer; a short busy timeout covers an operator's sqlite3 shell.
  sqlite3_busy_timeout(s->db_, 2000);
  std::string sync_sql =
      mode == SyncMode::Full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  if (!s->exec("PRAGMA journal_mode=WAL;", err) || !s->exec(sync_sql.c_str(), err) ||
      !s->exec("PRAGMA foreign_keys=ON;", err) || !s->exec("PRAGMA cache_size=-65536;", err) ||
      !s->migrate(err) || !s->prepare_all(err)) {
    err = path + ": " + err;
    return nullptr;
  }
  if (path != ":memory:") s->start_checkpointer(path);
  return s;
}

namespace {
constexpr int kCheckpointPages = 4000;  // ~16 MB of WAL
// SQLite rewinds the WAL to its start only when a transaction begins while every frame has
// been copied into the database. Under steady load the writer commits while the background
// checkpoint runs and so always finds a few frames left: the WAL would grow without end
// (gigabytes a minute at 10k messages/s, and every lookup in it slower). Past this size the
// writer copies that remainder itself, a few frames and one small fsync, so that its next
// transaction rewinds the WAL.
constexpr int kRewindPages = 4 * kCheckpointPages;  // ~64 MB
// After a rewind SQLite truncates a WAL file grown past this back to it.
constexpr const char* kWalSizeLimit = "PRAGMA journal_size_limit=134217728;";

bool exec_on(sqlite3* db, const char* sql, std::string& err) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    err = msg ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return false;
  }
  return true;
}
}  // namespace

void SqliteStore::start_checkpointer(const std::string& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &checkpoint_db_, flags, nullptr) != SQLITE_OK) {
    // Fall back to SQLite's inline auto-checkpoint: slower tail latency, still correct.
    sqlite3_close(checkpoint_db_);
    checkpoint_db_ = nullptr;
    return;
  }
  sqlite3_busy_timeout(checkpoint_db_, 1000);
  // A connection learns the journal mode when it first reads the database; until then a
  // checkpoint on it is a no-op that reports "not in WAL mode" (-1 frames). Read it now.
  std::string err;
  if (!exec_on(checkpoint_db_, "PRAGMA journal_mode=WAL;", err)) {
    sqlite3_close(checkpoint_db_);
    checkpoint_db_ = nullptr;
    return;
  }
  if (!exec(kWalSizeLimit, err)) return;  // then SQLite keeps checkpointing inline
  sqlite3_wal_autocheckpoint(db_, 0);
  sqlite3_wal_hook(db_, wal_hook, this);
  checkpointer_ = std::thread([this] { checkpointer_main(); });
}

// Runs on the writer's thread after each commit: wakes the checkpointer, and copies the last
// few frames itself when the WAL has not rewound for a while (kRewindPages).
int SqliteStore::wal_hook(void* self, sqlite3* db, const char* name, int pages) {
  auto* s = static_cast<SqliteStore*>(self);
  if (pages >= kRewindPages) {
    // PASSIVE never waits: while the checkpointer is busy this returns SQLITE_BUSY at once and
    // the next commit tries again. The checkpointer is not woken past this size, so it is
    // busy with at most the one checkpoint it had begun.
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= kCheckpointPages) {
    std::lock_guard<std::mutex> lock(s->mu_);
    if (!s->checkpoint_wanted_) {
      s->checkpoint_wanted_ = true;
      s->cv_.notify_one();
    }
  }
  return SQLITE_OK;
}

void SqliteStore::checkpointer_main() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return checkpoint_wanted_ || stopping_; });
    if (stopping_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

SqliteStore::~SqliteStore() {
  if (checkpointer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    checkpointer_.join();
  }
  if (checkpoint_db_) sqlite3_close(checkpoint_db_);
  for (sqlite3_stmt* st : stmts_) sqlite3_finalize(st);
  // Closing the last connection checkpoints the WAL into the main file.
  if (db_) sqlite3_close(db_);
}

bool SqliteStore::exec(const char* sql, std::string& err) { return exec_on(db_, sql, err); }

int SqliteStore::schema_version() { return static_cast<int>(sizeof kSteps / sizeof kSteps[0]); }

// Each step moves user_version forward by one inside a transaction, so a crash mid-migration
// leaves the previous version intact. Add new steps at the end; never edit a shipped one.
bool SqliteStore::migrate(std::string& err) {
  const int latest = schema_version();
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) != SQLITE_OK) {
    err = sqlite3_errmsg(db_);
    return false;
  }
  int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  if (version > latest) {
    err = "database schema version " + std::to_string(version) + " is newer than this server (" +
          std::to_string(latest) + ")";
    return false;
  }
  for (int v = version; v < latest; v++) {
    std::string sql = std::string("BEGIN;") + kSteps[v] +
                      "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
    if (!exec(sql.c_str(), err)) {
      std::string ignored;
      exec("ROLLBACK;", ignored);
      err = "migration to schema version " + std::to_string(v + 1) + " failed: " + err;
      return false;
    }
  }
  return true;
}

bool SqliteStore::prepare_all(std::string& err) {
  const std::string cols = kMsgColumns;
  // INDEXED BY pins the plans that keep sync and history O(limit); SQLite reports an error at
  // prepare time if an index ever goes missing instead of silently scanning.
  const std::string sql[kStmtCount] = {
      "BEGIN IMMEDIATE",
      "COMMIT",
      "ROLLBACK",
      "INSERT INTO users(name, salt, hash, iterations) VALUES(?1, ?2, ?3, ?4)",
      "SELECT id, name, salt, hash, iterations FROM users WHERE name = ?1",
      "SELECT id, name, salt, hash, iterations FROM users WHERE id = ?1",
      "INSERT INTO sessions(token_hash, user_id, created_ms) VALUES(?1, ?2, ?3)",
      "SELECT user_id FROM sessions WHERE token_hash = ?1",
      "DELETE FROM sessions WHERE token_hash = ?1",
      "INSERT INTO messages(sender, receiver, lo, hi, cid, kind, text, ts, status, status_ms, "
      "progress, media_name, media_size, media_mime, media_sha256, media_width, media_height, "
      "media_duration_ms, media_thumb) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16, ?17, ?18) ON CONFLICT(sender, cid) DO NOTHING",
      "SELECT " + cols + " FROM messages WHERE sender = ?1 AND cid = ?2",
      "INSERT OR IGNORE INTO conversations(user, peer) VALUES(?1, ?2)",
      "SELECT peer FROM conversations WHERE user = ?1",
      "SELECT id FROM messages INDEXED BY idx_msg_conv"
      " WHERE lo = ?1 AND hi = ?2 AND id > ?3 AND id < ?4 ORDER BY id LIMIT ?5",
      "SELECT " + cols +
          " FROM messages INDEXED BY idx_msg_conv"
          " WHERE lo = ?1 AND hi = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
      "SELECT 1 FROM messages INDEXED BY idx_msg_ready"
      " WHERE sender = ?1 AND media_sha256 = ?2 AND media_size = ?3 AND status = 'ready' LIMIT 1",
      "SELECT " + cols + " FROM messages WHERE id = ?1",
      "UPDATE messages SET status = ?2, status_ms = ?3,"
      " progress = CASE WHEN ?2 = 'ready' THEN media_size ELSE progress END"
      " WHERE id = ?1 AND status = 'uploading'",
      "UPDATE messages SET progress = ?2 WHERE id = ?1 AND status = 'uploading' AND progress < ?2",
      "SELECT id FROM messages INDEXED BY idx_msg_cancelled"
      " WHERE status = 'cancelled' AND status_ms >= ?1 ORDER BY id",
      "UPDATE messages SET media_sha256 = ?2"
      " WHERE id = ?1 AND status = 'uploading' AND media_sha256 = ''",
  };
  for (int i = 0; i < kStmtCount; i++) {
    if (sqlite3_prepare_v3(db_, sql[i].c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmts_[i],
                           nullptr) != SQLITE_OK) {
      err = std::string("prepare failed: ") + sqlite3_errmsg(db_);
      return false;
    }
  }
  return true;
}

StoreStatus SqliteStore::fail(const char* what) {
  error_ = std::string(what) + ": " + sqlite3_errmsg(db_);
  return StoreStatus::Failed;
}

StoreStatus SqliteStore::create_user(const std::string& name, const std::string& salt,
                                     const std::string& hash, uint32_t iterations,
                                     uint64_t& id_out) {
  sqlite3_stmt* st = stmts_[kUserInsert];
  StmtScope scope{st};
  bind_text(st, 1, name);
  bind_blob(st, 2, salt);
  bind_blob(st, 3, hash);
  sqlite3_bind_int64(st, 4, iterations);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_CONSTRAINT) return StoreStatus::Exists;
  if (rc != SQLITE_DONE) return fail("create user");
  id_out = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::read_user(sqlite3_stmt* st, UserRecord& out) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return StoreStatus::NotFound;
  if (rc != SQLITE_ROW) return fail("read user");
  out.id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  out.name = column_string(st, 1);
  out.salt = column_string(st, 2);
  out.hash = column_string(st, 3);
  out.iterations = static_cast<uint32_t>(sqlite3_column_int64(st, 4));
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::find_user_by_name(const std::string& name, UserRecord& out) {
  sqlite3_stmt* st = stmts_[kUserByName];
  StmtScope scope{st};
  bind_text(st, 1, name);
  return read_user(st, out);
}

StoreStatus SqliteStore::find_user_by_id(uint64_t id, UserRecord& out) {
  sqlite3_stmt* st = stmts_[kUserById];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(id));
  return read_user(st, out);
}

StoreStatus SqliteStore::create_session(const std::string& token_hash, uint64_t user_id,
                                        int64_t now_ms) {
  sqlite3_stmt* st = stmts_[kSessionInsert];
  StmtScope scope{st};
  bind_blob(st, 1, token_hash);
  sqlite3_bind_int64(st, 2, to_i64(user_id));
  sqlite3_bind_int64(st, 3, now_ms);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_CONSTRAINT) return StoreStatus::Exists;
  return rc == SQLITE_DONE ? StoreStatus::Ok : fail("create session");
}

StoreStatus SqliteStore::find_session(const std::string& token_hash, uint64_t& user_id_out) {
  sqlite3_stmt* st = stmts_[kSessionFind];
  StmtScope scope{st};
  bind_blob(st, 1, token_hash);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return StoreStatus::NotFound;
  if (rc != SQLITE_ROW) return fail("find session");
  user_id_out = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::delete_session(const std::string& token_hash) {
  sqlite3_stmt* st = stmts_[kSessionDelete];
  StmtScope scope{st};
  bind_blob(st, 1, token_hash);
  if (sqlite3_step(st) != SQLITE_DONE) return fail("delete session");
  return sqlite3_changes(db_) > 0 ? StoreStatus::Ok : StoreStatus::NotFound;
}

// Instant send: this sender already stored these bytes once (same sha256 and size), so the
// resource server has them and the new message is Ready without an upload. Only the sender's
// own messages count: knowing a hash must not grant another user's file.
StoreStatus SqliteStore::ready_copy_exists(const NewMessage& m, bool& exists) {
  sqlite3_stmt* st = stmts_[kReadyBySha];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(m.sender));
  bind_text(st, 2, m.media.sha256);
  sqlite3_bind_int64(st, 3, to_i64(m.media.size));
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("find ready media");
  exists = rc == SQLITE_ROW;
  return StoreStatus::Ok;
}

// Lists the conversation under both users for sync(). INSERT OR IGNORE of a row that exists
// only reads its page, so after the first message between two users this writes nothing.
StoreStatus SqliteStore::note_conversation(uint64_t a, uint64_t b) {
  std::pair<uint64_t, uint64_t> key(std::min(a, b), std::max(a, b));
  if (known_conversations_.count(key)) return StoreStatus::Ok;
  for (int dir = 0; dir < (a == b ? 1 : 2); dir++) {
    sqlite3_stmt* st = stmts_[kConvInsert];
    StmtScope scope{st};
    sqlite3_bind_int64(st, 1, to_i64(dir == 0 ? a : b));
    sqlite3_bind_int64(st, 2, to_i64(dir == 0 ? b : a));
    if (sqlite3_step(st) != SQLITE_DONE) return fail("list conversation");
  }
  listed_in_txn_.push_back(key);
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::insert_one(const NewMessage& m, int64_t ts, PutOutcome& out) {
  MessageStatus status = MessageStatus::Sent;
  uint64_t progress = 0;
  if (m.has_media) {
    bool instant = false;  // never for "hash later" (sha256 ""): bind_hash decides then
    if (!m.media.sha256.empty() && ready_copy_exists(m, instant) != StoreStatus::Ok) {
      return StoreStatus::Failed;
    }
    status = instant ? MessageStatus::Ready : MessageStatus::Uploading;
    progress = instant ? m.media.size : 0;
  }
  {
    sqlite3_stmt* st = stmts_[kMsgInsert];
    StmtScope scope{st};
    sqlite3_bind_int64(st, 1, to_i64(m.sender));
    sqlite3_bind_int64(st, 2, to_i64(m.receiver));
    sqlite3_bind_int64(st, 3, to_i64(std::min(m.sender, m.receiver)));
    sqlite3_bind_int64(st, 4, to_i64(std::max(m.sender, m.receiver)));
    bind_text(st, 5, m.cid);
    bind_text(st, 6, m.kind);
    bind_text(st, 7, m.text);
    sqlite3_bind_int64(st, 8, ts);
    sqlite3_bind_text(st, 9, message_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, to_i64(progress));
    if (m.has_media) {  // unbound parameters are NULL: a text row leaves them so
      bind_text(st, 11, m.media.name);
      sqlite3_bind_int64(st, 12, to_i64(m.media.size));
      bind_text(st, 13, m.media.mime);
      bind_text(st, 14, m.media.sha256);
      sqlite3_bind_int64(st, 15, to_i64(m.media.width));
      sqlite3_bind_int64(st, 16, to_i64(m.media.height));
      sqlite3_bind_int64(st, 17, to_i64(m.media.duration_ms));
      if (!m.media.thumb.empty()) bind_blob(st, 18, m.media.thumb);
    }
    if (sqlite3_step(st) != SQLITE_DONE) return fail("insert message");
    if (sqlite3_changes(db_) > 0) {
      if (note_conversation(m.sender, m.receiver) != StoreStatus::Ok) return StoreStatus::Failed;
      out.result = PutResult::Inserted;
      StoredMessage& s = out.message;
      s.id = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
      s.sender = m.sender;
      s.receiver = m.receiver;
      s.cid = m.cid;
      s.kind = m.kind;
      s.text = m.text;
      s.ts = ts;
      s.status = status;
      s.progress = progress;
      s.has_media = m.has_media;
      s.media = m.media;
      return StoreStatus::Ok;
    }
  }
  // (sender, cid) exists: a retry of a committed message, or a reuse for another one.
  sqlite3_stmt* st = stmts_[kMsgByCid];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(m.sender));
  bind_text(st, 2, m.cid);
  if (sqlite3_step(st) != SQLITE_ROW) return fail("read duplicate message");
  read_message_row(st, out.message);
  out.result = same_send(out.message, m) ? PutResult::Duplicate : PutResult::Conflict;
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::put_messages(const std::vector<NewMessage>& batch, int64_t ts,
                                      std::vector<PutOutcome>& out) {
  out.clear();
  out.resize(batch.size());
  listed_in_txn_.clear();
  {
    StmtScope scope{stmts_[kBegin]};
    if (sqlite3_step(stmts_[kBegin]) != SQLITE_DONE) return fail("begin");
  }
  for (size_t i = 0; i < batch.size(); i++) {
    if (insert_one(batch[i], ts, out[i]) != StoreStatus::Ok) {
      std::string saved = error_;
      StmtScope scope{stmts_[kRollback]};
      sqlite3_step(stmts_[kRollback]);
      error_ = saved;
      out.clear();
      return StoreStatus::Failed;
    }
  }
  StmtScope scope{stmts_[kCommit]};
  if (sqlite3_step(stmts_[kCommit]) != SQLITE_DONE) {
    StoreStatus s = fail("commit");
    if (!sqlite3_get_autocommit(db_)) {
      StmtScope rb{stmts_[kRollback]};
      sqlite3_step(stmts_[kRollback]);
    }
    out.clear();
    return s;
  }
  if (known_conversations_.size() + listed_in_txn_.size() > kKnownConversationsMax) {
    known_conversations_.clear();
  }
  known_conversations_.insert(listed_in_txn_.begin(), listed_in_txn_.end());
  listed_in_txn_.clear();
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::read_messages(sqlite3_stmt* st, uint32_t limit,
                                       std::vector<StoredMessage>& out, bool& more) {
  out.clear();
  more = false;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out.size() == limit) {  // the query asked for limit+1 rows to learn whether more exist
      more = true;
      break;
    }
    out.emplace_back();
    read_message_row(st, out.back());
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("read messages");
  return StoreStatus::Ok;
}

// The first `limit` messages with id > since over all of the user's conversations, merged by
// id. Only ids are read while merging (idx_msg_conv covers (lo, hi, id), so no table rows are
// touched); once limit + 1 candidates are known, each further conversation is asked only for
// ids below the largest of them, so a user with many quiet conversations costs one index seek
// each, and rows are then read by id for the page that is returned.
StoreStatus SqliteStore::sync(uint64_t user, uint64_t since, uint32_t limit,
                              std::vector<StoredMessage>& out, bool& more) {
  out.clear();
  more = false;
  std::vector<uint64_t> peers;
  {
    sqlite3_stmt* st = stmts_[kConvPeers];
    StmtScope scope{st};
    sqlite3_bind_int64(st, 1, to_i64(user));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      peers.push_back(static_cast<uint64_t>(sqlite3_column_int64(st, 0)));
    }
    if (rc != SQLITE_DONE) return fail("list conversations");
  }
  const size_t want = static_cast<size_t>(limit) + 1;  // one more tells whether more exist
  std::vector<uint64_t> ids;
  int64_t below = INT64_MAX;  // ids at or above this cannot make the first `want`
  for (uint64_t peer : peers) {
    sqlite3_stmt* st = stmts_[kConvIds];
    StmtScope scope{st};
    sqlite3_bind_int64(st, 1, to_i64(std::min(user, peer)));
    sqlite3_bind_int64(st, 2, to_i64(std::max(user, peer)));
    sqlite3_bind_int64(st, 3, to_i64(since));
    sqlite3_bind_int64(st, 4, below);
    sqlite3_bind_int64(st, 5, static_cast<int64_t>(want));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      ids.push_back(static_cast<uint64_t>(sqlite3_column_int64(st, 0)));
    }
    if (rc != SQLITE_DONE) return fail("sync");
    if (ids.size() >= want) {
      std::nth_element(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(want - 1), ids.end());
      ids.resize(want);
      below = to_i64(ids[want - 1]);
    }
  }
  std::sort(ids.begin(), ids.end());
  if (ids.size() > limit) {
    more = true;
    ids.resize(limit);
  }
  out.resize(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    StoreStatus s = find_message(ids[i], out[i]);
    if (s != StoreStatus::Ok) {
      out.clear();
      return s == StoreStatus::NotFound ? fail("sync: message vanished") : s;
    }
  }
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                                 std::vector<StoredMessage>& out, bool& more) {
  sqlite3_stmt* st = stmts_[kHistory];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(std::min(a, b)));
  sqlite3_bind_int64(st, 2, to_i64(std::max(a, b)));
  sqlite3_bind_int64(st, 3, before == 0 ? INT64_MAX : to_i64(before));
  sqlite3_bind_int64(st, 4, static_cast<int64_t>(limit) + 1);
  StoreStatus s = read_messages(st, limit, out, more);
  std::reverse(out.begin(), out.end());  // fetched newest first; the protocol wants ascending
  return s;
}

StoreStatus SqliteStore::find_message(uint64_t id, StoredMessage& out) {
  sqlite3_stmt* st = stmts_[kMsgById];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(id));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return StoreStatus::NotFound;
  if (rc != SQLITE_ROW) return fail("find message");
  read_message_row(st, out);
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::finish_upload(uint64_t id, MessageStatus to, int64_t now_ms) {
  sqlite3_stmt* st = stmts_[kFinishUpload];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(id));
  sqlite3_bind_text(st, 2, message_status_name(to), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now_ms);
  if (sqlite3_step(st) != SQLITE_DONE) return fail("update message status");
  return sqlite3_changes(db_) > 0 ? StoreStatus::Ok : StoreStatus::NotFound;
}

StoreStatus SqliteStore::set_progress(uint64_t id, uint64_t progress) {
  sqlite3_stmt* st = stmts_[kSetProgress];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, to_i64(id));
  sqlite3_bind_int64(st, 2, to_i64(progress));
  if (sqlite3_step(st) != SQLITE_DONE) return fail("update progress");
  return sqlite3_changes(db_) > 0 ? StoreStatus::Ok : StoreStatus::NotFound;
}

StoreStatus SqliteStore::bind_hash(uint64_t id, const std::string& sha256, int64_t now_ms,
                                   StoredMessage& out) {
  {
    StmtScope scope{stmts_[kBegin]};
    if (sqlite3_step(stmts_[kBegin]) != SQLITE_DONE) return fail("begin");
  }
  auto rollback = [&](StoreStatus s) {
    std::string saved = error_;
    StmtScope scope{stmts_[kRollback]};
    sqlite3_step(stmts_[kRollback]);
    error_ = saved;
    return s;
  };
  {
    sqlite3_stmt* st = stmts_[kBindHash];
    StmtScope scope{st};
    sqlite3_bind_int64(st, 1, to_i64(id));
    bind_text(st, 2, sha256);
    if (sqlite3_step(st) != SQLITE_DONE) return rollback(fail("bind hash"));
    if (sqlite3_changes(db_) == 0) return rollback(StoreStatus::NotFound);
  }
  if (find_message(id, out) != StoreStatus::Ok) return rollback(fail("read bound message"));
  NewMessage probe;
  probe.sender = out.sender;
  probe.media = out.media;
  bool instant = false;
  if (ready_copy_exists(probe, instant) != StoreStatus::Ok) return rollback(StoreStatus::Failed);
  if (instant) {
    if (finish_upload(id, MessageStatus::Ready, now_ms) != StoreStatus::Ok) {
      return rollback(fail("mark instant send ready"));
    }
    out.status = MessageStatus::Ready;
    out.progress = out.media.size;
  }
  StmtScope scope{stmts_[kCommit]};
  if (sqlite3_step(stmts_[kCommit]) != SQLITE_DONE) {
    StoreStatus s = fail("commit");
    return sqlite3_get_autocommit(db_) ? s : rollback(s);
  }
  return StoreStatus::Ok;
}

StoreStatus SqliteStore::cancelled_since(int64_t since_ms, std::vector<uint64_t>& ids) {
  ids.clear();
  sqlite3_stmt* st = stmts_[kCancelledSince];
  StmtScope scope{st};
  sqlite3_bind_int64(st, 1, since_ms);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ids.push_back(static_cast<uint64_t>(sqlite3_column_int64(st, 0)));
  }
  return rc == SQLITE_DONE ? StoreStatus::Ok : fail("list cancelled messages");
}

}  // namespace ferry::chat
