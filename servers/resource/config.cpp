// ferry-resd option parsing (see config.h). Same shape as ferry-chatd's: one table of keys,
// flags mapped onto the config-file keys, numbers range-checked.
#include "servers/resource/config.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "proto/json.h"

namespace ferry::resource {

namespace {

const char* const kUsage =
    "usage: ferry-resd [options]\n"
    "\n"
    "The ferry resource server: receives resumable, windowed, out-of-order uploads (binary\n"
    "frames, docs/protocol-upload.md), verifies every chunk and the whole file, stores files\n"
    "content-addressed, and tells the chat server when a file is ready. Prints\n"
    "'listening on HOST:PORT' once ready; logs go to stderr. SIGTERM or SIGINT: tell clients\n"
    "'shutting_down', let each file worker finish its current job, exit 0 (acknowledged\n"
    "chunks are durable at every moment, so abandoning the rest loses nothing).\n"
    "\n"
    "options (flags override the config file):\n"
    "  --listen HOST:PORT       address for clients; port 0 picks a free port\n"
    "                           (default 127.0.0.1:7421; IPv6 as [::1]:7421)\n"
    "  --data DIR               data directory, created if missing (default ./ferry-resd-data):\n"
    "                           partial/, files/, done/, notify/ (see docs/operations.md)\n"
    "  --config FILE            JSON file with any of the keys listen, data, secret_file, chat,\n"
    "                           advertise, workers, upload_ttl, idle_timeout_ms,\n"
    "                           max_queued_bytes, max_file_size\n"
    "  --secret-file FILE       shared HMAC key with ferry-chatd (64 hex digits), created with\n"
    "                           a random key if missing (default DIR/secret.key)\n"
    "  --chat HOST:PORT         ferry-chatd to link to (docs/protocol.md section 7): upload\n"
    "                           progress, upload_done (durable outbox), cancel events.\n"
    "                           Reconnects with backoff. Without it no one is notified.\n"
    "  --advertise HOST:PORT    address chatd hands to clients (default: the bound --listen\n"
    "                           address, so port 0 works; set it when listening on 0.0.0.0)\n"
    "  --workers N              file worker pairs (io + sync thread each), 1-64 (default 2)\n"
    "  --upload-ttl SEC         incomplete uploads idle this long are deleted (default 86400)\n"
    "  --idle-timeout-ms N      close client connections silent this long (default 60000)\n"
    "  --max-queued-bytes N     per connection: chunk bytes waiting for the workers before the\n"
    "                           server stops reading from it (default 67108864)\n"
    "  --max-file-size N        largest upload accepted, bytes (default 1099511627776)\n"
    "  --help                   show this help and exit\n";

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

bool check_address(const std::string& key, const std::string& value, std::string& err) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    err = key + " must be HOST:PORT, got '" + value + "'";
    return false;
  }
  return true;
}

bool apply(ResdOptions& o, const std::string& key, const std::string& value, std::string& err) {
  uint64_t v = 0;
  if (key == "listen") {
    o.listen = value;
  } else if (key == "data") {
    o.data = value;
  } else if (key == "secret_file") {
    o.secret_file = value;
  } else if (key == "chat") {
    if (!value.empty() && !check_address(key, value, err)) return false;
    o.chat = value;
  } else if (key == "advertise") {
    if (!value.empty() && !check_address(key, value, err)) return false;
    o.advertise = value;
  } else if (key == "workers") {
    if (!parse_u64(key, value, 1, 64, v, err)) return false;
    o.workers = static_cast<uint32_t>(v);
  } else if (key == "upload_ttl") {
    if (!parse_u64(key, value, 1, 10ull * 365 * 86400, v, err)) return false;
    o.upload_ttl_s = v;
  } else if (key == "idle_timeout_ms") {
    if (!parse_u64(key, value, 100, 86400000, v, err)) return false;
    o.idle_timeout_ms = v;
  } else if (key == "max_queued_bytes") {
    // At least two of the largest chunks, or a connection could stall with nothing queued.
    if (!parse_u64(key, value, 8u << 20, 1ull << 40, v, err)) return false;
    o.max_queued_bytes = v;
  } else if (key == "max_file_size") {
    if (!parse_u64(key, value, 0, (1ull << 53) - 1, v, err)) return false;
    o.max_file_size = v;
  } else {
    err = "unknown setting '" + key + "'";
    return false;
  }
  return true;
}

bool load_file(ResdOptions& o, const std::string& path, std::string& err) {
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
    if (!apply(o, f->string, value, err)) {
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
                       {"--chat", "chat"},
                       {"--advertise", "advertise"},
                       {"--workers", "workers"},
                       {"--upload-ttl", "upload_ttl"},
                       {"--idle-timeout-ms", "idle_timeout_ms"},
                       {"--max-queued-bytes", "max_queued_bytes"},
                       {"--max-file-size", "max_file_size"},
                       {"--config", nullptr}};

}  // namespace

const char* usage_text() { return kUsage; }

ParseResult parse_config(int argc, char** argv, ResdOptions& opts, std::string& err) {
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
  if (!config_path.empty() && !load_file(opts, config_path, err)) return ParseResult::Error;
  for (const auto& [flag, value] : given) {
    if (!apply(opts, flag->key, value, err)) {
      err = std::string(flag->flag) + ": " + err;
      return ParseResult::Error;
    }
  }
  if (opts.secret_file.empty()) opts.secret_file = opts.data + "/secret.key";
  return ParseResult::Run;
}

}  // namespace ferry::resource
