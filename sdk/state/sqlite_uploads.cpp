// SqliteStateStore, part 2: pending media uploads (schema version 2).
//
// One row per upload that is not finished, keyed by its cid. `seq` (the rowid) keeps the
// order in which the app started them, so a restart resumes them oldest first; upsert by cid
// keeps that order when a record is rewritten (INSERT OR REPLACE would move it to the end).
#include <sqlite3.h>

#include "sdk/state/sqlite_store.h"

namespace ferry::sdk {
namespace {

// 2: pending uploads (this file); 3: pending downloads (sqlite_downloads.cpp).
constexpr int kSchemaVersion = 4;

constexpr const char* kUploadsTable =
    "CREATE TABLE IF NOT EXISTS uploads("
    "  seq INTEGER PRIMARY KEY, cid TEXT NOT NULL UNIQUE, to_user TEXT NOT NULL,"
    "  path TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    "  mime TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL, thumb BLOB, message_id INTEGER NOT NULL,"
    "  done INTEGER NOT NULL, paused INTEGER NOT NULL, cancelled INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL);";

constexpr const char* kColumns =
    "cid, to_user, path, name, kind, size, mtime_ns, inode, sha256, mime, width, height, "
    "duration_ms, thumb, message_id, done, paused, cancelled, created_ms";

std::string text_at(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

int64_t i64_at(sqlite3_stmt* st, int col) { return sqlite3_column_int64(st, col); }

PendingUpload read_row(sqlite3_stmt* st) {
  PendingUpload u;
  u.cid = text_at(st, 0);
  u.to = text_at(st, 1);
  u.path = text_at(st, 2);
  u.name = text_at(st, 3);
  u.kind = static_cast<int>(i64_at(st, 4));
  u.size = static_cast<uint64_t>(i64_at(st, 5));
  u.mtime_ns = i64_at(st, 6);
  u.inode = static_cast<uint64_t>(i64_at(st, 7));
  u.sha256 = text_at(st, 8);
  u.mime = text_at(st, 9);
  u.width = static_cast<uint32_t>(i64_at(st, 10));
  u.height = static_cast<uint32_t>(i64_at(st, 11));
  u.duration_ms = static_cast<uint64_t>(i64_at(st, 12));
  const void* thumb = sqlite3_column_blob(st, 13);
  if (thumb) u.thumb.assign(static_cast<const char*>(thumb), sqlite3_column_bytes(st, 13));
  u.message_id = static_cast<uint64_t>(i64_at(st, 14));
  u.done = static_cast<uint64_t>(i64_at(st, 15));
  u.paused = i64_at(st, 16) != 0;
  u.cancelled = i64_at(st, 17) != 0;
  u.created_ms = i64_at(st, 18);
  return u;
}

void bind_str(sqlite3_stmt* st, int idx, const std::string& s) {
  sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void bind_u64(sqlite3_stmt* st, int idx, uint64_t v) {
  sqlite3_bind_int64(st, idx, static_cast<sqlite3_int64>(v));
}

bool run_done(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE;
}

}  // namespace

bool SqliteStateStore::state_has_column(const char* name) {
  sqlite3_stmt* st = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(db_, "SELECT 1 FROM pragma_table_info('state') WHERE name = ?", -1, &st,
                         nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

bool SqliteStateStore::migrate(std::string& err) {
  sqlite3_stmt* st = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    version = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  if (version > kSchemaVersion) {
    err = "state database has schema version " + std::to_string(version) +
          ", newer than this SDK's " + std::to_string(kSchemaVersion);
    return false;
  }
  if (version == kSchemaVersion) return true;
  // Each version only adds tables or columns; one transaction adds what this file lacks and
  // the version. The column is looked up rather than assumed from the version.
  std::string sql = "BEGIN IMMEDIATE;";
  if (version < 2) sql += kUploadsTable;
  if (version < 3) sql += downloads_table_sql();
  if (!state_has_column("resource")) {
    sql += "ALTER TABLE state ADD COLUMN resource TEXT NOT NULL DEFAULT '';";
  }
  sql += "PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";COMMIT;";
  if (!exec(sql.c_str())) {
    err = std::string("cannot migrate the state database: ") + sqlite3_errmsg(db_);
    exec("ROLLBACK");
    return false;
  }
  return true;
}

bool SqliteStateStore::prepare_uploads(std::string& err) {
  std::string cols = kColumns;
  st_up_all_ = prepare(("SELECT " + cols + " FROM uploads ORDER BY seq").c_str(), err);
  st_up_get_ = prepare(("SELECT " + cols + " FROM uploads WHERE cid = ?").c_str(), err);
  st_up_put_ = prepare(("INSERT INTO uploads (" + cols +
                        ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(cid) DO "
                        "UPDATE SET to_user=excluded.to_user, path=excluded.path, "
                        "name=excluded.name, kind=excluded.kind, size=excluded.size, "
                        "mtime_ns=excluded.mtime_ns, inode=excluded.inode, "
                        "sha256=excluded.sha256, mime=excluded.mime, width=excluded.width, "
                        "height=excluded.height, duration_ms=excluded.duration_ms, "
                        "thumb=excluded.thumb, message_id=excluded.message_id, "
                        "done=excluded.done, paused=excluded.paused, "
                        "cancelled=excluded.cancelled, created_ms=excluded.created_ms")
                           .c_str(),
                       err);
  st_up_done_ = prepare("UPDATE uploads SET done = ? WHERE cid = ?", err);
  st_up_remove_ = prepare("DELETE FROM uploads WHERE cid = ?", err);
  return st_up_all_ && st_up_get_ && st_up_put_ && st_up_done_ && st_up_remove_;
}

void SqliteStateStore::finalize_uploads() {
  for (sqlite3_stmt* st : {st_up_all_, st_up_get_, st_up_put_, st_up_done_, st_up_remove_}) {
    sqlite3_finalize(st);
  }
}

std::vector<PendingUpload> SqliteStateStore::uploads() {
  std::lock_guard lock(mu_);
  std::vector<PendingUpload> out;
  while (sqlite3_step(st_up_all_) == SQLITE_ROW) out.push_back(read_row(st_up_all_));
  sqlite3_reset(st_up_all_);
  return out;
}

bool SqliteStateStore::upload_get(const std::string& cid, PendingUpload& out) {
  std::lock_guard lock(mu_);
  bind_str(st_up_get_, 1, cid);
  bool found = sqlite3_step(st_up_get_) == SQLITE_ROW;
  if (found) out = read_row(st_up_get_);
  sqlite3_reset(st_up_get_);
  sqlite3_clear_bindings(st_up_get_);
  return found;
}

bool SqliteStateStore::upload_put(const PendingUpload& u) {
  std::lock_guard lock(mu_);
  begin_write();
  sqlite3_stmt* st = st_up_put_;
  bind_str(st, 1, u.cid);
  bind_str(st, 2, u.to);
  bind_str(st, 3, u.path);
  bind_str(st, 4, u.name);
  sqlite3_bind_int(st, 5, u.kind);
  bind_u64(st, 6, u.size);
  sqlite3_bind_int64(st, 7, u.mtime_ns);
  bind_u64(st, 8, u.inode);
  bind_str(st, 9, u.sha256);
  bind_str(st, 10, u.mime);
  bind_u64(st, 11, u.width);
  bind_u64(st, 12, u.height);
  bind_u64(st, 13, u.duration_ms);
  if (u.thumb.empty()) {
    sqlite3_bind_null(st, 14);
  } else {
    sqlite3_bind_blob(st, 14, u.thumb.data(), static_cast<int>(u.thumb.size()),
                      SQLITE_TRANSIENT);
  }
  bind_u64(st, 15, u.message_id);
  bind_u64(st, 16, u.done);
  sqlite3_bind_int(st, 17, u.paused ? 1 : 0);
  sqlite3_bind_int(st, 18, u.cancelled ? 1 : 0);
  sqlite3_bind_int64(st, 19, u.created_ms);
  return run_done(st);
}

bool SqliteStateStore::upload_set_done(const std::string& cid, uint64_t done) {
  std::lock_guard lock(mu_);
  begin_write();
  bind_u64(st_up_done_, 1, done);
  bind_str(st_up_done_, 2, cid);
  return run_done(st_up_done_);
}

bool SqliteStateStore::upload_remove(const std::string& cid) {
  std::lock_guard lock(mu_);
  begin_write();
  bind_str(st_up_remove_, 1, cid);
  return run_done(st_up_remove_);
}

}  // namespace ferry::sdk
