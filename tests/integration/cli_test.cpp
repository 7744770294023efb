// Proves the `ferry` command-line client works end to end against a real ferry-chatd:
// register, send (exit 0 once acknowledged), listen --json (messages missed while offline
// included), history, and clear errors with non-zero exits for what a person gets wrong.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

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

// Downloads (issue #4 section 3): `listen --download-dir` saves an incoming file once it is
// READY and says where, `url` prints a signed URL Debian's curl fetches the same bytes from,
// and `download` writes a verified copy; a bad message id is a usage error.
namespace {

std::string read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::vector<cJSON*> json_objects(const std::string& text) {
  std::vector<cJSON*> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] != '{') continue;
    if (cJSON* j = cJSON_Parse(line.c_str())) out.push_back(j);
  }
  return out;
}

std::string jstr(const cJSON* j, const char* k) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

double jnum(const cJSON* j, const char* k) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

}  // namespace

TEST(cli, download_url_and_listen_download_dir) {
  TempDir dir;
  Process chatd, resd;
  ASSERT_TRUE(
      chatd.start({bin_path("ferry-chatd"), "--listen", "127.0.0.1:0", "--data", dir.sub("chat"),
                   "--secret-file", dir.sub("secret.key"), "--kdf-iterations", "1000"}));
  ASSERT_TRUE(resd.start(
      {bin_path("ferry-resd"), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data",
       dir.sub("res"), "--secret-file", dir.sub("secret.key"), "--chat", chatd.address()},
      "http listening on "));
  Cli alice{chatd.address(), dir.sub("alice")};
  Cli bob{chatd.address(), dir.sub("bob")};
  ASSERT_EQ(alice({"register", "alice", "password-a"}).status, 0);
  ASSERT_EQ(bob({"register", "bob", "password-b"}).status, 0);

  std::string src = dir.sub("report 2026/..odd.bin");  // a name that is not a safe path
  std::string src_dir = dir.sub("report 2026");
  ASSERT_EQ(std::system(("mkdir -p '" + src_dir + "'").c_str()), 0);
  {
    std::string bytes;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < (3 << 20) / 8 + 3; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      bytes.append(reinterpret_cast<const char*>(&x), 8);
    }
    FILE* f = std::fopen(src.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  std::string want = read_file(src);

  // bob saves what arrives; alice sends.
  Process listen;
  std::string log = dir.sub("listen.log");
  std::string saved_dir = dir.sub("saved");
  ASSERT_TRUE(listen.spawn(
      {bin_path("ferry"), "--server", chatd.address(), "--state", dir.sub("bob"), "listen",
       "--json", "--until-ready", "--count", "1", "--download-dir", saved_dir, "--timeout", "120"},
      log));
  auto r = alice({"send-file", "bob", src, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  uint64_t id = 0;
  for (cJSON* j : json_objects(r.out)) {
    if (jstr(j, "type") == "status" && jstr(j, "status") == "READY")
      id = uint64_t(jnum(j, "message_id"));
    cJSON_Delete(j);
  }
  ASSERT_NE(id, 0u) << r.out;
  ASSERT_EQ(listen.wait(150000), 0) << read_file(log);
  std::string saved;
  for (cJSON* j : json_objects(read_file(log))) {
    if (jstr(j, "type") == "download" && jstr(j, "status") == "DONE" &&
        uint64_t(jnum(j, "message_id")) == id)
      saved = jstr(j, "path");
    cJSON_Delete(j);
  }
  ASSERT_EQ(saved, saved_dir + "/" + std::to_string(id) + "-odd.bin") << read_file(log);
  EXPECT_TRUE(read_file(saved) == want);

  // A signed URL curl can use.
  r = bob({"url", std::to_string(id), "--ttl", "120"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string url = r.out.substr(0, r.out.find('\n'));
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
  RunResult c = run({"/usr/bin/curl", "-sS", "-f", "-o", dir.sub("curl.bin"), url});
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_TRUE(read_file(dir.sub("curl.bin")) == want);

  // `ferry download`: a verified copy, no partial left.
  r = bob({"download", std::to_string(id), "--out", dir.sub("copy.bin")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("downloaded"), std::string::npos) << r.out;
  EXPECT_TRUE(read_file(dir.sub("copy.bin")) == want);
  EXPECT_EQ(read_file(dir.sub("copy.bin.part")), "");
  // libcurl is not linked (the CLI starts without its 28 libraries) but loaded for the first
  // download; where it cannot be loaded, the download fails saying so and writes nothing.
  RunResult deps = run({"/usr/bin/ldd", bin_path("ferry")});
  ASSERT_EQ(deps.status, 0) << deps.err;
  EXPECT_NE(deps.out.find("libferry"), std::string::npos) << deps.out;
  EXPECT_EQ(deps.out.find("libcurl"), std::string::npos) << deps.out;
  RunResult nocurl = run({"/usr/bin/env", "FERRY_CURL_LIBRARY=/nonexistent/libcurl.so.4",
                          bin_path("ferry"), "--server", chatd.address(), "--state",
                          dir.sub("bob"), "download", std::to_string(id), "--out",
                          dir.sub("nocurl.bin")});
  EXPECT_EQ(nocurl.status, 1) << nocurl.out << nocurl.err;
  EXPECT_NE(nocurl.err.find("downloads need libcurl"), std::string::npos) << nocurl.err;
  EXPECT_NE(nocurl.err.find("FERRY_CURL_LIBRARY"), std::string::npos) << nocurl.err;
  EXPECT_NE(access(dir.sub("nocurl.bin").c_str(), F_OK), 0);
  EXPECT_NE(access(dir.sub("nocurl.bin.part").c_str(), F_OK), 0);
  // Usage errors and an unknown message.
  EXPECT_EQ(bob({"download", "abc", "--out", dir.sub("x")}).status, 2);
  EXPECT_EQ(bob({"download", std::to_string(id)}).status, 2);
  r = bob({"download", "999999", "--out", dir.sub("x")});
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(r.err.empty());
  EXPECT_EQ(resd.terminate(), 0);
  EXPECT_EQ(chatd.terminate(), 0);
}
