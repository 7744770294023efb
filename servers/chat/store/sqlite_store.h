// SqliteStore: ChatStore on one SQLite file in WAL mode.
//
// Durability: WAL with synchronous=NORMAL writes each commit to the WAL through the OS page
// cache without fsync, which survives kill -9 of the process (the kernel still has the pages)
// but not power loss; SyncMode::Full fsyncs the WAL on every commit (once per group commit,
// not per message). Schema changes go through PRAGMA user_version, see migrate().
//
// Checkpoints: SQLite's automatic checkpoint runs inside a commit and fsyncs the database, a
// multi-millisecond stall of the network loop every few thousand messages. So auto-checkpoint
// is off and a checkpointer thread with its own connection runs PASSIVE checkpoints (which
// never block the writer) whenever the WAL has grown by kCheckpointPages since the last one.
// Because the writer keeps committing while that runs, SQLite would never find the WAL fully
// copied and never rewind it; past kRewindPages the writer copies the remainder itself (see
// wal_hook), which bounds the WAL file (tests/unit/sqlite_store_test.cpp).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "servers/chat/store/chat_store.h"

namespace ferry::chat {

enum class SyncMode { Normal, Full };

class SqliteStore final : public ChatStore {
 public:
  // Opens (creating if needed) the database at `path`; null with `err` filled on failure.
  static std::unique_ptr<SqliteStore> open(const std::string& path, SyncMode mode,
                                           std::string& err);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StoreStatus create_user(const std::string& name, const std::string& salt, const std::string& hash,
                          uint32_t iterations, uint64_t& id_out) override;
  StoreStatus find_user_by_name(const std::string& name, UserRecord& out) override;
  StoreStatus find_user_by_id(uint64_t id, UserRecord& out) override;
  StoreStatus create_session(const std::string& token_hash, uint64_t user_id,
                             int64_t now_ms) override;
  StoreStatus find_session(const std::string& token_hash, uint64_t& user_id_out) override;
  StoreStatus delete_session(const std::string& token_hash) override;
  StoreStatus put_messages(const std::vector<NewMessage>& batch, int64_t ts,
                           std::vector<PutOutcome>& out) override;
  StoreStatus sync(uint64_t user, uint64_t since, uint32_t limit, std::vector<StoredMessage>& out,
                   bool& more) override;
  StoreStatus history(uint64_t a, uint64_t b, uint64_t before, uint32_t limit,
                      std::vector<StoredMessage>& out, bool& more) override;
  StoreStatus find_message(uint64_t id, StoredMessage& out) override;
  StoreStatus finish_upload(uint64_t id, MessageStatus to, int64_t now_ms) override;
  StoreStatus set_progress(uint64_t id, uint64_t progress) override;
  StoreStatus cancelled_since(int64_t since_ms, std::vector<uint64_t>& ids) override;
  StoreStatus bind_hash(uint64_t id, const std::string& sha256, int64_t now_ms,
                        StoredMessage& out) override;
  const std::string& last_error() const override { return error_; }

  // The schema version this code migrates to (PRAGMA user_version).
  static int schema_version();

 private:
  // Prepared statements, compiled once in open(); indexes into stmts_.
  enum Stmt {
    kBegin,
    kCommit,
    kRollback,
    kUserInsert,
    kUserByName,
    kUserById,
    kSessionInsert,
    kSessionFind,
    kSessionDelete,
    kMsgInsert,
    kMsgByCid,
    kConvInsert,
    kConvPeers,
    kConvIds,
    kHistory,
    kReadyBySha,
    kMsgById,
    kFinishUpload,
    kSetProgress,
    kCancelledSince,
    kBindHash,
    kStmtCount
  };

  SqliteStore() = default;
  bool migrate(std::string& err);
  bool prepare_all(std::string& err);
  bool exec(const char* sql, std::string& err);
  StoreStatus fail(const char* what);
  StoreStatus read_user(sqlite3_stmt* st, UserRecord& out);
  StoreStatus read_messages(sqlite3_stmt* st, uint32_t limit, std::vector<StoredMessage>& out,
                            bool& more);
  StoreStatus insert_one(const NewMessage& m, int64_t ts, PutOutcome& out);
  StoreStatus ready_copy_exists(const NewMessage& m, bool& exists);
  StoreStatus note_conversation(uint64_t a, uint64_t b);

  void start_checkpointer(const std::string& path);
  void checkpointer_main();
  static int wal_hook(void* self, sqlite3* db, const char* name, int pages);

  sqlite3* db_ = nullptr;
  sqlite3* checkpoint_db_ = nullptr;  // used only by checkpointer_
  std::thread checkpointer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool checkpoint_wanted_ = false;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  sqlite3_stmt* stmts_[kStmtCount] = {};
  // Conversations (lo, hi) known to be listed in the committed database, so a message between
  // users who talked before runs no statement for it. Pairs listed by the open transaction
  // join at its commit and are forgotten if it rolls back. Only a cache: it is emptied when
  // it outgrows kKnownConversationsMax.
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& p) const {
      return std::hash<uint64_t>()(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
    }
  };
  static constexpr size_t kKnownConversationsMax = size_t(1) << 20;
  std::unordered_set<std::pair<uint64_t, uint64_t>, PairHash> known_conversations_;
  std::vector<std::pair<uint64_t, uint64_t>> listed_in_txn_;
  std::string error_;
};

}  // namespace ferry::chat
