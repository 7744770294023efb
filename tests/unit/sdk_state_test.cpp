// Proves the SQLite state store keeps the session, the sync position and the outbox across a
// reopen (what an app restart does), that the sync position never moves backwards, that
// reset() forgets everything but the new session (and the resource server's address), and
// that a batch commits its writes.
// How: real SQLite files in a temporary directory, opened and reopened. No sockets.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <sqlite3.h>

#include "sdk/state/sqlite_store.h"

namespace ferry::sdk {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ferry-sdk-state-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path_;
};

std::unique_ptr<SqliteStateStore> open_store(const std::string& dir) {
  std::string err;
  auto s = SqliteStateStore::open(dir, err);
  EXPECT_TRUE(s) << err;
  return s;
}

TEST(sdk_state, survives_reopen) {
  TempDir dir;
  std::string state = dir.path_ + "/nested/state";
  {
    auto s = open_store(state);
    EXPECT_FALSE(s->session().held());
    s->set_session(Session{"alice", 7, "token"});
    s->set_last_seen(41);
    OutboxEntry a{"cid-a-000001", "bob", "first", 100, 0};
    OutboxEntry b{"cid-b-000002", "bob", "second", 101, 0};
    ASSERT_TRUE(s->outbox_add(a));
    ASSERT_TRUE(s->outbox_add(b));
    EXPECT_NE(a.store_key, b.store_key);
    s->outbox_mark_sent(a, 40);
  }
  struct stat st {};
  ASSERT_EQ(::stat((state + "/ferry-state.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);  // the token is not readable by others
  auto s = open_store(state);
  EXPECT_EQ(s->session().user, "alice");
  EXPECT_EQ(s->session().user_id, 7u);
  EXPECT_EQ(s->session().token, "token");
  EXPECT_EQ(s->last_seen(), 41u);
  std::vector<OutboxEntry> out = s->outbox();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].cid, "cid-a-000001");  // oldest first
  EXPECT_EQ(out[0].server_id, 40u);
  EXPECT_EQ(out[1].text, "second");
  EXPECT_EQ(out[1].server_id, 0u);
}

// The resource server's address is the deployment's: kept across a reopen and a reset (another
// user), and added to a state file written before it existed (schema version 3).
TEST(sdk_state, resource_hint_survives_reopen_reset_and_migration) {
  TempDir dir;
  {
    auto s = open_store(dir.path_);
    EXPECT_EQ(s->resource_hint(), "");
    EXPECT_TRUE(s->set_resource_hint("198.18.0.1:7421"));
    EXPECT_TRUE(s->reset(Session{"bob", 2, "t2"}));
  }
  {
    auto s = open_store(dir.path_);
    EXPECT_EQ(s->resource_hint(), "198.18.0.1:7421");
    EXPECT_EQ(s->session().user, "bob");
  }
  // Back to what a version-3 SDK wrote: no column, version 3.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path_ + "/ferry-state.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE state DROP COLUMN resource; PRAGMA user_version = 3;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  {
    auto s = open_store(dir.path_);
    EXPECT_EQ(s->resource_hint(), "");
    EXPECT_EQ(s->session().user, "bob");
    EXPECT_TRUE(s->set_resource_hint("198.18.0.1:7500"));
  }
  EXPECT_EQ(open_store(dir.path_)->resource_hint(), "198.18.0.1:7500");
}

TEST(sdk_state, last_seen_never_moves_back) {
  TempDir dir;
  auto s = open_store(dir.path_);
  s->set_last_seen(10);
  s->set_last_seen(5);
  EXPECT_EQ(s->last_seen(), 10u);
  auto again = open_store(dir.path_);
  EXPECT_EQ(again->last_seen(), 10u);
}

TEST(sdk_state, reset_forgets_outbox_and_position) {
  TempDir dir;
  auto s = open_store(dir.path_);
  s->set_session(Session{"alice", 1, "t"});
  s->set_last_seen(9);
  OutboxEntry c{"cid-c-000003", "bob", "x", 1, 0};
  s->outbox_add(c);
  s->reset(Session{"bob", 2, "u"});
  auto again = open_store(dir.path_);
  EXPECT_EQ(again->session().user, "bob");
  EXPECT_EQ(again->last_seen(), 0u);
  EXPECT_TRUE(again->outbox().empty());
}

TEST(sdk_state, batch_commits_and_remove_works) {
  TempDir dir;
  auto s = open_store(dir.path_);
  OutboxEntry d{"cid-d-000004", "bob", "x", 1, 0};
  OutboxEntry e{"cid-e-000005", "bob", "y", 2, 0};
  s->outbox_add(d);
  s->outbox_add(e);
  s->batch_begin();
  s->set_last_seen(3);
  s->outbox_remove(d);
  s->batch_end();
  auto again = open_store(dir.path_);
  EXPECT_EQ(again->last_seen(), 3u);
  std::vector<OutboxEntry> left = again->outbox();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].cid, "cid-e-000005");
  // Entries read back carry the key that mark/remove need.
  again->outbox_remove(left[0]);
  EXPECT_TRUE(open_store(dir.path_)->outbox().empty());
}

// The core records this client's media messages as outbox rows that are acknowledged from
// the start (no text, server_id set; issue 5, ferry-sim seed 1): outbox_add must store the
// server id it is given, so after an app restart a sync still recognises the message as ours.
TEST(sdk_state, outbox_add_keeps_a_given_server_id_across_reopen) {
  TempDir dir;
  {
    auto s = open_store(dir.path_);
    OutboxEntry media{"file-cid-000006", "bob", "", 5, 42};
    ASSERT_TRUE(s->outbox_add(media));
  }
  auto again = open_store(dir.path_);
  std::vector<OutboxEntry> out = again->outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].cid, "file-cid-000006");
  EXPECT_EQ(out[0].server_id, 42u);
  EXPECT_TRUE(out[0].text.empty());
}

TEST(sdk_state, unusable_directory_is_an_error) {
  std::string err;
  EXPECT_FALSE(SqliteStateStore::open("/proc/ferry-cannot-create-this", err));
  EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace ferry::sdk
