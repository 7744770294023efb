// Proves the `ferry` command-line client works end to end against a real ferry-chatd:
// register, send (exit 0 once acknowledged), listen --json (messages missed while offline
// included), history, and clear errors with non-zero exits for what a person gets wrong.
#include <gtest/gtest.h>

#include <cjson/cJSON.h>

#include "tests/support/process.h"

using namespace ferry::test;

namespace {

struct Cli {
  std::string server;
  std::string state;
  RunResult operator()(std::vector<std::string> args) const {
    std::vector<std::string> argv = {bin_path("ferry"), "--server", server, "--state", state};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
};

}  // namespace

TEST(cli, register_send_listen_history) {
  TempDir dir;
  Process chatd;
  ASSERT_TRUE(chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                           dir.sub("chat"), "--kdf-iterations", "1000"}));
  Cli alice{chatd.address(), dir.sub("alice")};
  Cli bob{chatd.address(), dir.sub("bob")};

  auto r = alice({"register", "alice", "password-a"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = bob({"register", "bob", "password-b"});
  ASSERT_EQ(r.status, 0) << r.err;

  // Bob is offline (no process) while alice sends; each send exits 0 once acknowledged.
  r = alice({"send", "bob", "hello bob"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = alice({"send", "bob", "你好，鲍勃"});
  ASSERT_EQ(r.status, 0) << r.err;

  r = bob({"listen", "--json", "--count", "2", "--timeout", "60"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> texts;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t eol = r.out.find('\n', pos);
    std::string line = r.out.substr(pos, eol - pos);
    pos = eol == std::string::npos ? r.out.size() : eol + 1;
    if (line.empty()) continue;
    cJSON* j = cJSON_Parse(line.c_str());
    ASSERT_NE(j, nullptr) << "not JSON: " << line;
    EXPECT_STREQ(cJSON_GetObjectItem(j, "type")->valuestring, "message");
    EXPECT_STREQ(cJSON_GetObjectItem(j, "from")->valuestring, "alice");
    EXPECT_STREQ(cJSON_GetObjectItem(j, "to")->valuestring, "bob");
    EXPECT_STREQ(cJSON_GetObjectItem(j, "status")->valuestring, "sent");
    EXPECT_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(j, "id")));
    texts.push_back(cJSON_GetObjectItem(j, "text")->valuestring);
    cJSON_Delete(j);
  }
  ASSERT_EQ(texts.size(), 2u) << r.out;
  EXPECT_EQ(texts[0], "hello bob");
  EXPECT_EQ(texts[1], "你好，鲍勃");

  // Nothing new: listen with a count times out and says so.
  r = bob({"listen", "--count", "1", "--timeout", "1"});
  EXPECT_NE(r.status, 0);

  r = bob({"history", "alice", "--json", "--limit", "10"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("hello bob"), std::string::npos);
  EXPECT_NE(r.out.find("你好，鲍勃"), std::string::npos);

  EXPECT_EQ(chatd.terminate(), 0);
}

TEST(cli, errors_are_clear) {
  TempDir dir;
  Process chatd;
  ASSERT_TRUE(chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data",
                           dir.sub("chat"), "--kdf-iterations", "1000"}));
  Cli carol{chatd.address(), dir.sub("carol")};
  // Not logged in.
  auto r = carol({"send", "bob", "hi"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("log"), std::string::npos) << r.err;
  ASSERT_EQ(carol({"register", "carol", "password-c"}).status, 0);
  // Unknown recipient.
  r = carol({"send", "nobody", "hi"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("nobody"), std::string::npos) << r.err;
  // Wrong password.
  Cli other{chatd.address(), dir.sub("other")};
  r = other({"login", "carol", "wrong-password"});
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
  // Unknown command.
  r = other({"frobnicate"});
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(chatd.terminate(), 0);
}
