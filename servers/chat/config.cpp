// ferry-chatd option parsing (see config.h): its keys, ranges and usage text. The flag and
// --config machinery is shared with ferry-resd (servers/common/flags.h).
#include "servers/chat/config.h"

namespace ferry::chat {

namespace {

using server::Flag;
using server::parse_u64;

constexpr uint64_t kIdleTimeoutMinMs = 100;
constexpr uint64_t kMaxQueueMinBytes = 1024;

const char* const kUsage =
    "usage: ferry-chatd [options]\n"
    "\n"
    "The ferry chat server. Prints 'listening on HOST:PORT' once ready; logs go to stderr.\n"
    "SIGTERM or SIGINT: commit pending messages, tell clients 'shutting_down', exit 0.\n"
    "\n"
    "options (flags override the config file):\n"
    "  --listen HOST:PORT       address to listen on; port 0 picks a free port\n"
    "                           (default 127.0.0.1:7420; IPv6 as [::1]:7420)\n"
    "  --data DIR               data directory, created if missing; holds chat.db\n"
    "                           (default ./ferry-data)\n"
    "  --secret-file FILE       the HMAC key shared with ferry-resd (64 hex digits); signs\n"
    "                           upload tickets and authenticates the resource server's link.\n"
    "                           Created with a random key (mode 0600) if missing; give both\n"
    "                           servers the same file (default DIR/secret.key under --data)\n"
    "  --config FILE            JSON file with any of the keys listen, data, secret_file,\n"
    "                           kdf_iterations, idle_timeout_ms, max_queue_bytes, sync\n"
    "  --kdf-iterations N       PBKDF2-HMAC-SHA256 iterations for new passwords\n"
    "                           (default 210000, minimum 1000)\n"
    "  --idle-timeout-ms N      close connections silent for N ms (default 30000, minimum 100);\n"
    "                           clients are told to ping every N/3 ms\n"
    "  --max-queue-bytes N      unsent bytes per connection before it is dropped as a slow\n"
    "                           consumer (default 8388608, minimum 1024)\n"
    "  --sync normal|full       normal: commits survive kill -9 of the server (default);\n"
    "                           full: fsync each group commit, survives power loss\n"
    "  --help                   show this help and exit\n"
    "\n"
    "Resource server link: ferry-chatd needs no flag for it. ferry-resd --chat HOST:PORT\n"
    "connects to this server's --listen address, proves it holds the same secret file, and\n"
    "announces the address clients should upload to; media sends fail with\n"
    "no_resource_server until one has linked. See docs/operations.md.\n";

// Applies one setting by its config-file key; flags are mapped onto the same keys. Kept per
// server on purpose: the keys, ranges and defaults are each server's own (an empty
// secret_file is an error here, while resd treats it as "use <data>/secret.key").
bool apply(ChatdConfig& cfg, const std::string& key, const std::string& value, std::string& err) {
  uint64_t v = 0;
  if (key == "listen") {
    cfg.listen = value;
  } else if (key == "data") {
    cfg.data = value;
  } else if (key == "secret_file") {
    if (value.empty()) {
      err = "secret_file must not be empty";
      return false;
    }
    cfg.secret_file = value;
  } else if (key == "kdf_iterations") {
    if (!parse_u64(key, value, 1000, 100000000, v, err)) return false;
    cfg.kdf_iterations = static_cast<uint32_t>(v);
  } else if (key == "idle_timeout_ms") {
    if (!parse_u64(key, value, kIdleTimeoutMinMs, 86400000, v, err)) return false;
    cfg.idle_timeout_ms = static_cast<int64_t>(v);
  } else if (key == "max_queue_bytes") {
    if (!parse_u64(key, value, kMaxQueueMinBytes, 1ull << 40, v, err)) return false;
    cfg.max_queue_bytes = v;
  } else if (key == "sync") {
    if (value != "normal" && value != "full") {
      err = "sync must be 'normal' or 'full', got '" + value + "'";
      return false;
    }
    cfg.sync = value;
  } else {
    err = "unknown setting '" + key + "'";
    return false;
  }
  return true;
}

const Flag kFlags[] = {{"--listen", "listen"},
                       {"--data", "data"},
                       {"--secret-file", "secret_file"},
                       {"--kdf-iterations", "kdf_iterations"},
                       {"--idle-timeout-ms", "idle_timeout_ms"},
                       {"--max-queue-bytes", "max_queue_bytes"},
                       {"--sync", "sync"},
                       {"--config", nullptr}};

}  // namespace

const char* usage_text() { return kUsage; }

ParseResult parse_config(int argc, char** argv, ChatdConfig& cfg, std::string& err) {
  auto apply_one = [&cfg](const std::string& key, const std::string& value, std::string& e) {
    return apply(cfg, key, value, e);
  };
  return server::parse_flags(argc, argv, kFlags, apply_one, err);
}

}  // namespace ferry::chat
