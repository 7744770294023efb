// ferry-resd settings: defaults, the JSON config file, and command-line flags (flags override
// the file). Kept apart from main() so every option is parsed and checked in one place.
#pragma once

#include <cstdint>
#include <string>

#include "servers/common/flags.h"

namespace ferry::resource {

struct ResdOptions {
  std::string listen = "127.0.0.1:7421";
  std::string data = "./ferry-resd-data";
  std::string secret_file;  // default <data>/secret.key
  std::string chat;         // HOST:PORT of ferry-chatd; empty = no link
  std::string advertise;    // HOST:PORT for clients; empty = the bound listen address
  std::string http;            // HTTP download listener HOST:PORT; empty = none
  std::string http_advertise;  // HOST:PORT in download URLs; empty = the bound http address
  uint32_t workers = 2;
  uint64_t upload_ttl_s = 24 * 3600;
  uint64_t idle_timeout_ms = 60000;
  uint64_t max_queued_bytes = 64u << 20;
  uint64_t max_total_queued_bytes = 256u << 20;
  uint64_t max_file_size = 1ull << 40;
  uint64_t flush_every_bytes = 64u << 20;  // ResdConfig::flush_every_bytes; 0 = never
  // "normal": an acked chunk survives kill -9 of the server (its bytes and ledger are in the
  // page cache) and the file is fsynced before READY; "full": also survives power loss (every
  // ack waits for fdatasync + a synced ledger), at the disk's sync speed.
  std::string sync = "normal";
};

using server::ParseResult;

// Fills `opts` from --config FILE (if given) and then the flags. On Error, `err` says why.
ParseResult parse_config(int argc, char** argv, ResdOptions& opts, std::string& err);
const char* usage_text();

}  // namespace ferry::resource
