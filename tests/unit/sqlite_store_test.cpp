// SqliteStore: sync's merge over conversations, and the store under sustained writes: the WAL must stay bounded and its frames must reach the
// database file. SQLite rewinds the WAL only when a transaction starts with every frame
// already checkpointed; with the checkpointer on its own thread and commits back to back that
// moment never came, and a chat server's WAL grew by gigabytes a minute (issue 2's benchmark).
//
// How: a real store in a temp dir, thousands of small group commits with no pause between
// them (the pattern of 10k messages/s), then the sizes of the files on disk. No timing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "servers/chat/store/sqlite_store.h"

namespace ferry::chat {
namespace {

namespace fs = std::filesystem;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Opens a store in the temp dir with `n` users; their ids go to users_.
  std::unique_ptr<SqliteStore> open_with_users(int n) {
    std::string err;
    auto store = SqliteStore::open(dir_ + "/chat.db", SyncMode::Normal, err);
    EXPECT_TRUE(store) << err;
    for (int i = 0; store && i < n; i++) {
      uint64_t id = 0;
      EXPECT_EQ(store->create_user("u" + std::to_string(i), "salt", "hash", 1000, id),
                StoreStatus::Ok);
      users_.push_back(id);
    }
    return store;
  }
  std::string dir_;
  std::vector<uint64_t> users_;
};

TEST_F(SqliteStoreTest, wal_stays_bounded_under_back_to_back_commits) {
  auto store = open_with_users(40);
  ASSERT_TRUE(store);
  const std::vector<uint64_t>& users = users_;
  // ~25,000 commits of 2 messages: each dirties several index pages, so together they write
  // far more WAL frames (hundreds of MB) than the bound below.
  const int kCommits = 25000;
  uintmax_t wal_peak = 0;
  uint64_t seq = 0;
  for (int c = 0; c < kCommits; c++) {
    std::vector<NewMessage> batch(2);
    for (NewMessage& m : batch) {
      m.sender = users[seq % users.size()];
      m.receiver = users[(seq * 7 + 1) % users.size()];
      if (m.receiver == m.sender) m.receiver = users[(seq + 1) % users.size()];
      m.cid = "cid-" + std::to_string(seq++) + "-0123456789abcdef";
      m.kind = "text";
      m.text = "a message of a typical length, " + std::to_string(seq);
    }
    std::vector<PutOutcome> out;
    ASSERT_EQ(store->put_messages(batch, 1000 + c, out), StoreStatus::Ok) << store->last_error();
    if (c % 500 == 0) wal_peak = std::max(wal_peak, fs::file_size(dir_ + "/chat.db-wal"));
  }
  wal_peak = std::max(wal_peak, fs::file_size(dir_ + "/chat.db-wal"));
  // The writer rewinds past ~64 MB of WAL, plus what arrives while the checkpointer finishes
  // its round; unbounded growth passes 1 GB by the end.
  EXPECT_LT(wal_peak, uintmax_t(160) << 20) << "the WAL kept growing";
  // The checkpoints really copied pages into the database file (it starts at one page).
  EXPECT_GT(fs::file_size(dir_ + "/chat.db"), uintmax_t(1) << 20);
  // And every message is there.
  std::vector<StoredMessage> page;
  bool more = false;
  ASSERT_EQ(store->sync(users[0], 0, 100000, page, more), StoreStatus::Ok);
  EXPECT_FALSE(more);
  EXPECT_GT(page.size(), 0u);
}

// Sync walks the user's conversations (schema 3) and merges them by id: paging through it with
// a small limit must return exactly the messages the user sent or received, in id order, each
// once (messages to oneself included), with `more` set on every page but the last.
TEST_F(SqliteStoreTest, sync_merges_every_conversation_in_id_order) {
  auto store = open_with_users(6);
  ASSERT_TRUE(store);
  const std::vector<uint64_t>& users = users_;
  std::vector<StoredMessage> all;  // as stored, ascending ids
  uint64_t seq = 0;
  for (int c = 0; c < 60; c++) {
    std::vector<NewMessage> batch(1 + c % 4);
    for (NewMessage& m : batch) {
      m.sender = users[(seq * 5 + 3) % users.size()];
      m.receiver = users[(seq * seq + 1) % users.size()];  // sometimes the sender itself
      m.cid = "merge-" + std::to_string(seq++);
      m.kind = "text";
      m.text = "t" + std::to_string(seq);
    }
    std::vector<PutOutcome> out;
    ASSERT_EQ(store->put_messages(batch, 1000 + c, out), StoreStatus::Ok) << store->last_error();
    for (const PutOutcome& o : out) all.push_back(o.message);
  }
  for (uint64_t u : users) {
    std::vector<uint64_t> expected;
    for (const StoredMessage& m : all) {
      if (m.sender == u || m.receiver == u) expected.push_back(m.id);
    }
    ASSERT_FALSE(expected.empty());
    for (uint32_t limit : {1u, 7u, 1000u}) {
      std::vector<uint64_t> got;
      uint64_t since = 0;
      for (int pages = 0; pages < 1000; pages++) {
        std::vector<StoredMessage> page;
        bool more = false;
        ASSERT_EQ(store->sync(u, since, limit, page, more), StoreStatus::Ok);
        ASSERT_LE(page.size(), limit);
        for (const StoredMessage& m : page) {
          EXPECT_TRUE(m.sender == u || m.receiver == u);
          got.push_back(m.id);
        }
        if (!more) break;
        ASSERT_EQ(page.size(), limit) << "more set on a short page";
        since = page.back().id;
      }
      EXPECT_EQ(got, expected) << "user " << u << ", limit " << limit;
    }
  }
  // A user who never talked to anyone gets an empty page.
  uint64_t loner = 0;
  ASSERT_EQ(store->create_user("loner", "salt", "hash", 1000, loner), StoreStatus::Ok);
  std::vector<StoredMessage> page;
  bool more = true;
  ASSERT_EQ(store->sync(loner, 0, 10, page, more), StoreStatus::Ok);
  EXPECT_TRUE(page.empty());
  EXPECT_FALSE(more);
}

}  // namespace
}  // namespace ferry::chat
