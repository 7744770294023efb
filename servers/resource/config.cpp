// ferry-resd option parsing (see config.h): its keys, ranges and usage text. The flag and
// --config machinery is shared with ferry-chatd (servers/common/flags.h).
#include "servers/resource/config.h"

namespace ferry::resource {

namespace {

using server::check_address;
using server::Flag;
using server::parse_u64;

const char* const kUsage =
    "usage: ferry-resd [options]\n"
    "\n"
    "The ferry resource server: receives resumable, windowed, out-of-order uploads (binary\n"
    "frames, docs/protocol-upload.md), verifies every chunk and the whole file, stores files\n"
    "content-addressed, and tells the chat server when a file is ready. Prints\n"
    "'listening on HOST:PORT' once ready; logs go to stderr. SIGTERM or SIGINT: tell clients\n"
    "'shutting_down', let each file worker finish its current job, exit 0 (acknowledged\n"
    "chunks are held at every moment, see --sync, so abandoning the rest loses nothing).\n"
    "\n"
    "options (flags override the config file):\n"
    "  --listen HOST:PORT       address for clients; port 0 picks a free port\n"
    "                           (default 127.0.0.1:7421; IPv6 as [::1]:7421)\n"
    "  --data DIR               data directory, created if missing (default ./ferry-resd-data):\n"
    "                           partial/, files/, done/, notify/ (see docs/operations.md)\n"
    "  --config FILE            JSON file with any of the keys listen, data, secret_file, chat,\n"
    "                           advertise, http, http_advertise, workers, upload_ttl,\n"
    "                           idle_timeout_ms, max_queued_bytes, max_total_queued_bytes,\n"
    "                           max_file_size, sync, flush_every_bytes\n"
    "  --secret-file FILE       shared HMAC key with ferry-chatd (64 hex digits), created with\n"
    "                           a random key if missing (default DIR/secret.key)\n"
    "  --chat HOST:PORT         ferry-chatd to link to (docs/protocol.md section 7): upload\n"
    "                           progress, upload_done (durable outbox), cancel events.\n"
    "                           Reconnects with backoff. Without it no one is notified.\n"
    "  --advertise HOST:PORT    address chatd hands to clients (default: the bound --listen\n"
    "                           address, so port 0 works; set it when listening on 0.0.0.0)\n"
    "  --http HOST:PORT         also serve downloads over HTTP/1.1 here (GET/HEAD /m/<id> with\n"
    "                           a ticket from the chat server's download_url; port 0 picks a\n"
    "                           free port, announced as 'http listening on HOST:PORT' after the\n"
    "                           upload port's line). Default: no HTTP listener\n"
    "  --http-advertise HOST:PORT  address download URLs name (default: the bound --http\n"
    "                           address; set it behind a reverse proxy or on 0.0.0.0)\n"
    "  --workers N              file worker groups (io + hash + sync + flush thread), 1-64\n"
    "                           (default 2)\n"
    "  --upload-ttl SEC         incomplete uploads idle this long are deleted (default 86400)\n"
    "  --idle-timeout-ms N      close client connections silent this long (default 60000)\n"
    "  --max-queued-bytes N     per connection: chunk bytes waiting for the workers before the\n"
    "                           server stops reading from it (default 67108864)\n"
    "  --max-total-queued-bytes N  the same over all connections together: past it the server\n"
    "                           stops reading from every client connection (default 268435456)\n"
    "  --max-file-size N        largest upload accepted, bytes (default 1099511627776)\n"
    "  --sync normal|full       normal (default): an acknowledged chunk survives kill -9 or a\n"
    "                           crash of the server; the file is fsynced before it is READY.\n"
    "                           full: every acknowledgement waits for fdatasync of the data\n"
    "                           and a synced ledger, so acked chunks also survive power loss\n"
    "                           (uploads then run at the disk's sync speed)\n"
    "  --flush-every-bytes N    with --sync normal: sync an upload's data file in the\n"
    "                           background every N bytes written (every eighth of a smaller\n"
    "                           file, at least 4 MiB), so the sync before READY has little\n"
    "                           left to do (default 67108864; 0 = only that sync)\n"
    "  --help                   show this help and exit\n";

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
  } else if (key == "http") {
    if (!value.empty() && !check_address(key, value, err)) return false;
    o.http = value;
  } else if (key == "http_advertise") {
    if (!value.empty() && !check_address(key, value, err)) return false;
    o.http_advertise = value;
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
  } else if (key == "max_total_queued_bytes") {
    if (!parse_u64(key, value, 8u << 20, 1ull << 40, v, err)) return false;
    o.max_total_queued_bytes = v;
  } else if (key == "sync") {
    if (value != "normal" && value != "full") {
      err = "sync must be 'normal' or 'full', got '" + value + "'";
      return false;
    }
    o.sync = value;
  } else if (key == "flush_every_bytes") {
    if (!parse_u64(key, value, 0, 1ull << 40, v, err)) return false;
    o.flush_every_bytes = v;
  } else if (key == "max_file_size") {
    if (!parse_u64(key, value, 0, (1ull << 53) - 1, v, err)) return false;
    o.max_file_size = v;
  } else {
    err = "unknown setting '" + key + "'";
    return false;
  }
  return true;
}

const Flag kFlags[] = {{"--listen", "listen"},
                       {"--data", "data"},
                       {"--secret-file", "secret_file"},
                       {"--chat", "chat"},
                       {"--advertise", "advertise"},
                       {"--http", "http"},
                       {"--http-advertise", "http_advertise"},
                       {"--workers", "workers"},
                       {"--upload-ttl", "upload_ttl"},
                       {"--idle-timeout-ms", "idle_timeout_ms"},
                       {"--max-queued-bytes", "max_queued_bytes"},
                       {"--max-total-queued-bytes", "max_total_queued_bytes"},
                       {"--max-file-size", "max_file_size"},
                       {"--sync", "sync"},
                       {"--flush-every-bytes", "flush_every_bytes"},
                       {"--config", nullptr}};

}  // namespace

const char* usage_text() { return kUsage; }

ParseResult parse_config(int argc, char** argv, ResdOptions& opts, std::string& err) {
  auto apply_one = [&opts](const std::string& key, const std::string& value, std::string& e) {
    return apply(opts, key, value, e);
  };
  ParseResult r = server::parse_flags(argc, argv, kFlags, apply_one, err);
  if (r == ParseResult::Run && opts.secret_file.empty()) {
    opts.secret_file = opts.data + "/secret.key";
  }
  return r;
}

}  // namespace ferry::resource
