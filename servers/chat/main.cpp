// ferry-chatd: parses options, opens the store, loads the shared secret, and runs the core under
// the libuv adapter.
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "proto/ticket.h"
#include "servers/chat/config.h"
#include "servers/chat/core/chat_core.h"
#include "servers/chat/store/sqlite_store.h"
#include "servers/chat/uv/server.h"

int main(int argc, char** argv) {
  using namespace ferry::chat;
  ChatdConfig cfg;
  std::string err;
  int exit_code = ferry::server::finish_parse(parse_config(argc, argv, cfg, err), "ferry-chatd",
                                              usage_text(), err);
  if (exit_code >= 0) return exit_code;
  // A peer that vanishes mid-write must not kill the server; libuv reports EPIPE instead.
  signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  std::filesystem::create_directories(cfg.data, ec);
  if (ec) {
    fprintf(stderr, "ferry-chatd: cannot create data directory %s: %s\n", cfg.data.c_str(),
            ec.message().c_str());
    return 1;
  }
  std::string db_path = cfg.data + "/chat.db";
  auto store =
      SqliteStore::open(db_path, cfg.sync == "full" ? SyncMode::Full : SyncMode::Normal, err);
  if (!store) {
    fprintf(stderr, "ferry-chatd: %s\n", err.c_str());
    return 1;
  }
  fprintf(stderr, "ferry-chatd: data in %s (sync=%s, kdf_iterations=%u)\n", db_path.c_str(),
          cfg.sync.c_str(), cfg.kdf_iterations);

  std::string secret_path = cfg.secret_file.empty() ? cfg.data + "/secret.key" : cfg.secret_file;
  std::string secret_key;
  if (!ferry::proto::load_or_create_secret(secret_path, secret_key, err)) {
    fprintf(stderr, "ferry-chatd: %s\n", err.c_str());
    return 1;
  }
  fprintf(stderr, "ferry-chatd: shared secret from %s\n", secret_path.c_str());

  CoreConfig core_cfg;
  core_cfg.secret_key = std::move(secret_key);
  core_cfg.kdf_iterations = cfg.kdf_iterations;
  core_cfg.idle_timeout_ms = cfg.idle_timeout_ms;
  // Pinging at a third of the timeout lets two pings go missing before the server gives up.
  core_cfg.heartbeat_ms = cfg.idle_timeout_ms / 3;
  int status;
  {
    ChatCore core(*store, core_cfg);
    ServerOptions opts;
    opts.listen = cfg.listen;
    opts.max_queue_bytes = cfg.max_queue_bytes;
    status = run_server(core, opts);
  }
  store.reset();  // closes SQLite, checkpointing the WAL
  return status;
}
