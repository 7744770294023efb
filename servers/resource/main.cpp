// ferry-resd: parses options, loads the shared key, opens and scans the data directory, and
// runs the core under the libuv adapter with its file workers.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "proto/ticket.h"
#include "servers/common/uv/signals.h"
#include "servers/resource/config.h"
#include "servers/resource/core/resd_core.h"
#include "servers/resource/http/uv/http_server.h"
#include "servers/resource/store/file_store.h"
#include "servers/resource/uv/server.h"

int main(int argc, char** argv) {
  using namespace ferry::resource;
  ResdOptions opts;
  std::string err;
  int exit_code = ferry::server::finish_parse(parse_config(argc, argv, opts, err), "ferry-resd",
                                              usage_text(), err);
  if (exit_code >= 0) return exit_code;
  signal(SIGPIPE, SIG_IGN);  // a vanished peer is an EPIPE from libuv, not a dead server
  // Every CHUNK body is a fresh allocation of up to 4 MiB, freed by a file worker. With
  // glibc's defaults the freed top of the heap was trimmed again and again, so each new body
  // faulted its pages back in: 24-40k page faults and ~0.1 CPU-s per GiB uploaded. Bodies
  // now come from the heap (below 8 MiB) and up to 64 MiB of free heap is kept for reuse.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);

  std::error_code ec;
  std::filesystem::create_directories(opts.data, ec);
  if (ec) {
    fprintf(stderr, "ferry-resd: cannot create data directory %s: %s\n", opts.data.c_str(),
            ec.message().c_str());
    return 1;
  }
  ResdConfig cfg;
  if (!ferry::proto::load_or_create_secret(opts.secret_file, cfg.key, err)) {
    fprintf(stderr, "ferry-resd: %s\n", err.c_str());
    return 1;
  }
  FileStore store;
  if (!store.open(opts.data, opts.sync == "full", err)) {
    fprintf(stderr, "ferry-resd: %s\n", err.c_str());
    return 1;
  }
  cfg.upload_ttl_ms = static_cast<int64_t>(opts.upload_ttl_s) * 1000;
  cfg.idle_timeout_ms = static_cast<int64_t>(opts.idle_timeout_ms);
  cfg.heartbeat_ms = cfg.idle_timeout_ms / 3;
  cfg.max_queued_bytes = opts.max_queued_bytes;
  cfg.max_total_queued_bytes = opts.max_total_queued_bytes;
  cfg.max_file_size = opts.max_file_size;
  // --sync full syncs the data on every ack already.
  cfg.flush_every_bytes = opts.sync == "full" ? 0 : opts.flush_every_bytes;
  cfg.link_enabled = !opts.chat.empty();
  cfg.link.key = cfg.key;
  cfg.link.advertise = opts.advertise;

  // The HTTP listener is bound before the core exists so that its real address (port 0) is
  // known to the chat link's peer_auth; it starts answering once the loop runs.
  ferry::resource::http::HttpServerPtr http;
  if (!opts.http.empty()) {
    ferry::resource::http::HttpOptions ho;
    ho.listen = opts.http;
    ho.data_dir = opts.data;
    ho.key = cfg.key;
    ho.idle_timeout_ms = static_cast<int64_t>(opts.idle_timeout_ms);
    std::string bound;
    int bind_status = 1;
    http = ferry::resource::http::http_server_bind(uv_default_loop(), ho, bound, err, bind_status);
    if (!http) {
      fprintf(stderr, "ferry-resd: %s\n", err.c_str());
      return bind_status;
    }
    cfg.link.http = opts.http_advertise.empty() ? bound : opts.http_advertise;
  }

  StoreScan scan = store.scan();
  int64_t now = ferry::server::wall_clock_ms();
  int status;
  {
    ResdCore core(cfg);
    for (const std::string& note : scan.notes) fprintf(stderr, "ferry-resd: %s\n", note.c_str());
    for (const auto& [id, rec] : scan.done) core.load_done(id, rec);
    for (const auto& p : scan.partials) core.load_partial(p.meta, p.blob, p.last_active_ms);
    for (const auto& o : scan.outbox) core.load_outbox(o.message_id, o.size, o.hash, now);
    fprintf(stderr,
            "ferry-resd: data in %s: %zu partial, %zu finished, %zu to notify; %u workers; "
            "sync %s; chat link %s\n",
            opts.data.c_str(), scan.partials.size(), scan.done.size(), scan.outbox.size(),
            opts.workers, opts.sync.c_str(), opts.chat.empty() ? "off" : opts.chat.c_str());
    ServerOptions so;
    so.listen = opts.listen;
    so.chat = opts.chat;
    so.advertise = opts.advertise;
    so.workers = static_cast<int>(opts.workers);
    if (http) {
      ferry::resource::http::HttpServer* h = http.get();
      so.after_listening = [h] { ferry::resource::http::http_server_start(*h); };
      so.on_stop = [h] { ferry::resource::http::http_server_stop(*h); };
    }
    status = run_server(core, store, so);
  }
  return status;
}
