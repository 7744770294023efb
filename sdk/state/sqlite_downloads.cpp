// SqliteStateStore, part 3: pending downloads (schema version 3).
//
// One row per download the app asked for and that has not finished, keyed by message id;
// `seq` keeps the order in which they were asked for. The bytes already fetched are in the
// partial file next to the destination, so nothing here is written while bytes arrive: rows
// change only when a download starts, gets its URL grant, pauses or ends.
#include <sqlite3.h>

#include "sdk/state/sqlite_store.h"

namespace ferry::sdk {
namespace {

constexpr const char* kColumns = "message_id, dest, size, sha256, name, mime, paused, created_ms";

std::string text_col(sqlite3_stmt* st, int col) {
  const unsigned char* p = sqlite3_column_text(st, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(st, col)))
           : std::string();
}

PendingDownload read_row(sqlite3_stmt* st) {
  PendingDownload d;
  d.message_id = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
  d.dest = text_col(st, 1);
  d.size = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
  d.sha256 = text_col(st, 3);
  d.name = text_col(st, 4);
  d.mime = text_col(st, 5);
  d.paused = sqlite3_column_int64(st, 6) != 0;
  d.created_ms = sqlite3_column_int64(st, 7);
  return d;
}

void bind_text(sqlite3_stmt* st, int idx, const std::string& s) {
  sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

bool done(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE;
}

}  // namespace

const char* SqliteStateStore::downloads_table_sql() {
  return "CREATE TABLE IF NOT EXISTS downloads("
         "  seq INTEGER PRIMARY KEY, message_id INTEGER NOT NULL UNIQUE, dest TEXT NOT NULL,"
         "  size INTEGER NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL,"
         "  mime TEXT NOT NULL, paused INTEGER NOT NULL, created_ms INTEGER NOT NULL);";
}

bool SqliteStateStore::prepare_downloads(std::string& err) {
  std::string cols = kColumns;
  st_down_all_ = prepare(("SELECT " + cols + " FROM downloads ORDER BY seq").c_str(), err);
  st_down_get_ = prepare(("SELECT " + cols + " FROM downloads WHERE message_id = ?").c_str(), err);
  st_down_put_ = prepare(("INSERT INTO downloads (" + cols +
                          ") VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(message_id) DO UPDATE SET "
                          "dest=excluded.dest, size=excluded.size, sha256=excluded.sha256, "
                          "name=excluded.name, mime=excluded.mime, paused=excluded.paused, "
                          "created_ms=excluded.created_ms")
                             .c_str(),
                         err);
  st_down_remove_ = prepare("DELETE FROM downloads WHERE message_id = ?", err);
  return st_down_all_ && st_down_get_ && st_down_put_ && st_down_remove_;
}

void SqliteStateStore::finalize_downloads() {
  for (sqlite3_stmt* st : {st_down_all_, st_down_get_, st_down_put_, st_down_remove_}) {
    sqlite3_finalize(st);
  }
}

std::vector<PendingDownload> SqliteStateStore::downloads() {
  std::lock_guard lock(mu_);
  std::vector<PendingDownload> out;
  while (sqlite3_step(st_down_all_) == SQLITE_ROW) out.push_back(read_row(st_down_all_));
  sqlite3_reset(st_down_all_);
  return out;
}

bool SqliteStateStore::download_get(uint64_t id, PendingDownload& out) {
  std::lock_guard lock(mu_);
  sqlite3_bind_int64(st_down_get_, 1, static_cast<sqlite3_int64>(id));
  bool found = sqlite3_step(st_down_get_) == SQLITE_ROW;
  if (found) out = read_row(st_down_get_);
  sqlite3_reset(st_down_get_);
  sqlite3_clear_bindings(st_down_get_);
  return found;
}

bool SqliteStateStore::download_put(const PendingDownload& d) {
  std::lock_guard lock(mu_);
  begin_write();
  sqlite3_stmt* st = st_down_put_;
  sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(d.message_id));
  bind_text(st, 2, d.dest);
  sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(d.size));
  bind_text(st, 4, d.sha256);
  bind_text(st, 5, d.name);
  bind_text(st, 6, d.mime);
  sqlite3_bind_int(st, 7, d.paused ? 1 : 0);
  sqlite3_bind_int64(st, 8, d.created_ms);
  return done(st);
}

bool SqliteStateStore::download_remove(uint64_t id) {
  std::lock_guard lock(mu_);
  begin_write();
  sqlite3_bind_int64(st_down_remove_, 1, static_cast<sqlite3_int64>(id));
  return done(st_down_remove_);
}

}  // namespace ferry::sdk
