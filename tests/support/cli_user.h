// Driving the `ferry` CLI from tests, benchmarks and the scenario runner: a user with a
// server and a state directory, the JSON lines a CLI wrote, files of known content and their
// SHA-256, and polling with a deadline.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

}  // namespace ferry::test
