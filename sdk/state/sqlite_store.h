// SqliteStateStore: the StateStore kept in `<state dir>/ferry-state.db` (SQLite, WAL).
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A committed outbox entry survives the
// app crashing (the WAL is in the OS's hands); after a power loss the last few transactions
// may be lost, which only means a message the app queued in that instant is not re-sent.
// That trade keeps ferry_send_text() at one un-synced WAL append (tens of microseconds), so
// tens of thousands of sends per second stay cheap. Every statement is prepared once.
//
// Two processes may share a directory (a `listen` and a `send` from the CLI): writes are
// short transactions with a busy timeout, and the sync position only moves forward.
//
// Schema versions (PRAGMA user_version): 0/1 = session, sync position, outbox; 2 adds the
// `uploads` table of pending media uploads; 3 adds the `downloads` table of pending downloads.
// Opening an older file migrates it in place.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "sdk/core/download_store.h"
#include "sdk/core/state_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ferry::sdk {

class SqliteStateStore final : public StateStore, public DownloadStore {
 public:
  // Creates the directory (mode 0700: the file holds a session token) and the database.
  // Returns null and fills `err` when either cannot be opened.
  static std::unique_ptr<SqliteStateStore> open(const std::string& dir, std::string& err);
  ~SqliteStateStore() override;
  SqliteStateStore(const SqliteStateStore&) = delete;
  SqliteStateStore& operator=(const SqliteStateStore&) = delete;

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
  std::string resource_hint() override;
  bool set_resource_hint(const std::string& address) override;
  // sqlite_downloads.cpp
  std::vector<PendingDownload> downloads() override;
  bool download_get(uint64_t message_id, PendingDownload& out) override;
  bool download_put(const PendingDownload& d) override;
  bool download_remove(uint64_t message_id) override;
  void batch_begin() override;
  void batch_end() override;

 private:
  SqliteStateStore() = default;
  bool init(const std::string& path, std::string& err);
  // sqlite_uploads.cpp: schema migration to version 2 (pending uploads) and its statements,
  // and to version 4 (the state row's resource hint).
  bool migrate(std::string& err);
  bool state_has_column(const char* name);
  bool prepare_uploads(std::string& err);
  void finalize_uploads();
  // sqlite_downloads.cpp: the version-3 table and its statements.
  static const char* downloads_table_sql();
  bool prepare_downloads(std::string& err);
  void finalize_downloads();
  bool exec(const char* sql);
  bool write_session(const Session& s);
  sqlite3_stmt* prepare(const char* sql, std::string& err);

  // Recursive: batch_begin() holds it across the individual writes of one batch.
  std::recursive_mutex mu_;
  sqlite3* db_ = nullptr;
  void begin_write();
  bool batch_open_ = false;  // between batch_begin() and batch_end()
  bool in_batch_ = false;    // a transaction is open
  Session session_;          // cached: read on every ferry_client_user() / send
  std::string resource_hint_;  // cached
  uint64_t last_seen_ = 0;
  sqlite3_stmt* st_set_session_ = nullptr;
  sqlite3_stmt* st_set_last_seen_ = nullptr;
  sqlite3_stmt* st_outbox_all_ = nullptr;
  sqlite3_stmt* st_outbox_add_ = nullptr;
  sqlite3_stmt* st_outbox_mark_ = nullptr;
  sqlite3_stmt* st_outbox_remove_ = nullptr;
  sqlite3_stmt* st_up_all_ = nullptr;
  sqlite3_stmt* st_up_get_ = nullptr;
  sqlite3_stmt* st_up_put_ = nullptr;
  sqlite3_stmt* st_up_done_ = nullptr;
  sqlite3_stmt* st_up_remove_ = nullptr;
  sqlite3_stmt* st_down_all_ = nullptr;
  sqlite3_stmt* st_down_get_ = nullptr;
  sqlite3_stmt* st_down_put_ = nullptr;
  sqlite3_stmt* st_down_remove_ = nullptr;
};

}  // namespace ferry::sdk
