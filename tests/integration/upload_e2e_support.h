// Support for upload_e2e_test.cpp: a chat server and a resource server (behind an
// UploadProxy) in a TempDir, the `ferry` CLI run for alice and bob, the JSON lines a CLI
// wrote to its log, files of known content and their SHA-256, and polling with a deadline.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/upload_e2e_proxy.h"
#include "tests/support/process.h"

namespace ferry::test {

// Polls pred() every 20 ms until it holds or timeout_ms passes; returns pred().
bool wait_for(const std::function<bool()>& pred, int timeout_ms = 120000);

// Writes `size` bytes of xorshift noise seeded with `seed` (fast: about 1 GB/s).
void write_noise_file(const std::string& path, uint64_t size, uint64_t seed);
// Lowercase hex SHA-256 of a file; "" if it cannot be read.
std::string sha256_file(const std::string& path);
// Every regular file under dir (recursive), as paths relative to it.
std::vector<std::string> files_under(const std::string& dir);

// One parsed JSON line.
struct JsonLine {
  std::shared_ptr<cJSON> j;
  std::string str(const char* key) const;
  double num(const char* key) const;  // -1 when missing
  bool is(const char* type) const { return str("type") == type; }
};
// The lines of `text` that parse as JSON objects (others, e.g. stderr notes, are skipped).
std::vector<JsonLine> json_lines(const std::string& text);
std::string read_text(const std::string& path);

// A CLI user: `ferry --server S --state DIR ...`.
struct CliUser {
  std::string server, state;
  std::vector<std::string> argv(const std::vector<std::string>& rest) const;
  RunResult run(const std::vector<std::string>& rest, int timeout_ms = 300000) const {
    return ferry::test::run(argv(rest), timeout_ms);
  }
};

class Cluster {
 public:
  Cluster();
  // Starts ferry-chatd, then ferry-resd linked to it (advertising the proxy); registers
  // alice and bob. False (with a gtest failure) if anything does not come up.
  bool start();
  bool start_chatd();  // on chat_port() if it is set, else an ephemeral port
  bool start_resd();   // on resd_port() if it is set, else an ephemeral port

  TempDir dir;
  Process chatd, resd;
  UploadProxy proxy;
  CliUser alice, bob;
  std::string res_dir() const { return dir.sub("res"); }
  std::string files_dir() const { return dir.sub("res") + "/files"; }
  std::string partial_dir() const { return dir.sub("res") + "/partial"; }
  // The stored copy of content with this hash (files/<sha[0:2]>/<sha>).
  std::string stored_path(const std::string& sha256) const;
  int chat_port() const { return chat_port_; }

 private:
  int chat_port_ = 0;
  int resd_port_ = 0;
};

}  // namespace ferry::test
