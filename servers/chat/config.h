// ferry-chatd settings: defaults, the JSON config file, and command-line flags (flags override
// the file). Kept apart from main() so every option is parsed and checked in one place.
#pragma once

#include <cstdint>
#include <string>

#include "servers/common/flags.h"

namespace ferry::chat {

struct ChatdConfig {
  std::string listen = "127.0.0.1:7420";
  std::string data = "./ferry-data";
  uint32_t kdf_iterations = 210000;
  int64_t idle_timeout_ms = 30000;
  uint64_t max_queue_bytes = 8u << 20;
  std::string sync = "normal";  // "normal" or "full"
  // The HMAC key shared with ferry-resd; empty means <data>/secret.key (resolved in main,
  // after flags and file have both had their say about `data`).
  std::string secret_file;
};

using server::ParseResult;

// Fills `cfg` from --config FILE (if given) and then the flags. On Error, `err` says why.
ParseResult parse_config(int argc, char** argv, ChatdConfig& cfg, std::string& err);
const char* usage_text();

}  // namespace ferry::chat
