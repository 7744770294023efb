// ferry-chatd option parsing (see config.h).
#include "servers/chat/config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "proto/json.h"

namespace ferry::chat {

namespace {

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

bool parse_u64(const std::string& name, const std::string& text, uint64_t min, uint64_t max,
               uint64_t& out, std::string& err) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || v < min || v > max) {
    err = name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
          ", got '" + text + "'";
    return false;
  }
  out = v;
  return true;
}

// Applies one setting by its config-file key; flags are mapped onto the same keys.
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

bool load_file(ChatdConfig& cfg, const std::string& path, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read config file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  proto::Json j = proto::json_parse(ss.str());
  if (!j || !cJSON_IsObject(j.get())) {
    err = path + ": not a JSON object";
    return false;
  }
  for (const cJSON* f = j->child; f; f = f->next) {
    std::string value;
    if (cJSON_IsString(f)) {
      value = f->valuestring;
    } else if (cJSON_IsNumber(f)) {
      uint64_t n = 0;
      if (!proto::json_get_u64(j.get(), f->string, n, err)) return false;
      value = std::to_string(n);
    } else {
      err = path + ": '" + f->string + "' must be a string or a number";
      return false;
    }
    if (!apply(cfg, f->string, value, err)) {
      err = path + ": " + err;
      return false;
    }
  }
  return true;
}

struct Flag {
  const char* flag;
  const char* key;
};
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
  // First pass: split "--flag value" / "--flag=value" pairs and find --config.
  std::vector<std::pair<const Flag*, std::string>> given;
  std::string config_path;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseResult::Help;
    std::string name = arg, value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : kFlags) {
      if (name == f.flag) flag = &f;
    }
    if (!flag) {
      err = "unknown option '" + arg + "' (see --help)";
      return ParseResult::Error;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        err = "option " + name + " needs a value";
        return ParseResult::Error;
      }
      value = argv[++i];
    }
    if (!flag->key) {
      config_path = value;
    } else {
      given.emplace_back(flag, value);
    }
  }
  if (!config_path.empty() && !load_file(cfg, config_path, err)) return ParseResult::Error;
  for (const auto& [flag, value] : given) {
    if (!apply(cfg, flag->key, value, err)) {
      err = std::string(flag->flag) + ": " + err;
      return ParseResult::Error;
    }
  }
  return ParseResult::Run;
}

}  // namespace ferry::chat
