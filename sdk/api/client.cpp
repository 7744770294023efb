// ferry_client_*, the requests and the event calls: argument checks, then hand-off to the
// loop thread through the command queue. No C++ exception crosses this file's functions.
#include "sdk/api/client.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

#include "proto/hex.h"
#include "proto/json.h"
#include "sdk/api/event_build.h"
#include "sdk/api/options.h"
#include "sdk/state/memory_store.h"
#include "sdk/state/sqlite_store.h"

using ferry::sdk::Command;

namespace {

void check_handle(const ferry_client_t* c) {
  if (c->magic != ferry_client::kMagic) {
    std::fprintf(stderr, "ferry: invalid or destroyed ferry_client_t %p\n",
                 static_cast<const void*>(c));
    std::abort();
  }
}

}  // namespace

namespace {
// Appends one command to the loop's queue with `add(queue)` under the lock. Only the command
// that made the queue non-empty wakes the loop: the loop takes the whole queue after that
// wake, so later ones ride along.
template <class Add>
void enqueue_with(ferry_client_t* c, Add add) {
  bool was_empty;
  {
    std::lock_guard lock(c->commands_mu);
    was_empty = c->commands.empty();
    add(c->commands);
  }
  if (was_empty) c->driver->wake();
}
}  // namespace

void ferry::sdk::enqueue_command(ferry_client_t* c, Command cmd) {
  enqueue_with(c, [&](std::vector<Command>& q) { q.push_back(std::move(cmd)); });
}

void ferry::sdk::check_client(const ferry_client_t* c) { check_handle(c); }

std::string ferry::sdk::new_local_id(ferry_client_t* c) {
  constexpr size_t kIdBytes = (FERRY_LOCAL_ID_SIZE - 1) / 2;
  constexpr size_t kPoolIds = 64;
  std::lock_guard lock(c->cid_mu);
  if (c->cid_pool_used + kIdBytes > c->cid_pool.size()) {
    c->cid_pool = ferry::proto::random_bytes(kIdBytes * kPoolIds);
    c->cid_pool_used = 0;
  }
  std::string id = ferry::proto::hex_encode(
      std::string_view(c->cid_pool).substr(c->cid_pool_used, kIdBytes));
  c->cid_pool_used += kIdBytes;
  return id;
}

namespace {

void enqueue(ferry_client_t* c, Command cmd) { ferry::sdk::enqueue_command(c, std::move(cmd)); }

// enqueue() for a send, the per-message command: built in place in the queue rather than
// built, moved in and destroyed (a Command is large).
void enqueue_send(ferry_client_t* c, ferry::sdk::OutboxEntry&& entry) {
  enqueue_with(c, [&](std::vector<Command>& q) {
    q.emplace_back(Command::Kind::Send).entry = std::move(entry);
  });
}

// Loop thread: apply the app's commands to the core in the order they were made.
void run_commands(ferry_client_t* c, uint64_t now) {
  std::vector<Command>& batch = c->command_batch;
  batch.clear();
  {
    std::lock_guard lock(c->commands_mu);
    batch.swap(c->commands);
  }
  ferry::sdk::ClientCore& core = *c->core;
  for (Command& cmd : batch) {
    switch (cmd.kind) {
      case Command::Kind::Register:
        core.submit_register(cmd.request_id, cmd.user_or_peer, cmd.password, now);
        break;
      case Command::Kind::Login:
        core.submit_login(cmd.request_id, cmd.user_or_peer, cmd.password, now);
        break;
      case Command::Kind::Logout:
        core.logout(now);
        break;
      case Command::Kind::Send:
        core.submit_send(std::move(cmd.entry), now);
        break;
      case Command::Kind::History:
        core.submit_history(cmd.request_id, cmd.user_or_peer, cmd.before, cmd.limit, now);
        break;
      case Command::Kind::Download:
      case Command::Kind::DownloadPause:
      case Command::Kind::DownloadResume:
      case Command::Kind::DownloadCancel:
      case Command::Kind::DownloadUrl:
        ferry::sdk::run_download_command(core, cmd, now);
        break;
      default:
        ferry::sdk::run_media_command(core, cmd, now);
        break;
    }
  }
  batch.clear();
}

// Loop thread, once per loop iteration with events (UvLoop's check phase): hands them to the
// app at once (one lock, one eventfd write).
void publish_events(ferry_client_t* c) {
  std::vector<ferry_event_t*>& batch = c->publish_batch;
  while (const ferry::sdk::Event* e = c->core->poll_event_ref()) {
    // Out of memory here leaves nothing sensible to report to; the message is still on the
    // server (history) and the outbox is unaffected.
    if (ferry_event_t* ev = ferry::sdk::build_event(*e)) {
      try {
        batch.push_back(ev);
      } catch (...) {
        std::free(ev);
      }
    }
  }
  c->events.push_all(batch);
}

int create_client(const ferry_options_t* opts, ferry_client_t** out) {
  auto c = std::make_unique<ferry_client>();
  if (opts->has_state_dir) {
    std::string err;
    c->store = ferry::sdk::SqliteStateStore::open(opts->state_dir, err);
    if (!c->store) return FERRY_ESTATE;
  } else {
    c->store = std::make_unique<ferry::sdk::MemoryStateStore>();
  }
  c->downloads = dynamic_cast<ferry::sdk::DownloadStore*>(c->store.get());
  if (!c->downloads) return FERRY_ESTATE;
  ferry::sdk::CoreConfig cfg;
  cfg.reconnect_min_ms = opts->reconnect_min_ms;
  cfg.reconnect_max_ms = opts->reconnect_max_ms;
  cfg.heartbeat_ms = opts->heartbeat_ms;
  cfg.receive = opts->receive;
  cfg.uploads.max_lanes = opts->upload_connections;
  cfg.agent = std::string("ferry-sdk/") + FERRY_VERSION_STRING;
  auto rng = std::make_shared<std::mt19937>(std::random_device{}());
  c->core = std::make_unique<ferry::sdk::ClientCore>(cfg, *c->store, [rng] { return (*rng)(); });
  ferry_client_t* raw = c.get();
  ferry::sdk::DriverHooks hooks{[raw](uint64_t now) { run_commands(raw, now); },
                                [raw] { publish_events(raw); }};
  std::shared_ptr<ferry::sdk::UvLoop> loop = opts->loop;
  if (!loop) {
    // The client's own loop and thread, as every client had before loops could be shared.
    loop = std::make_shared<ferry::sdk::UvLoop>();
    if (loop->start() != 0) return FERRY_EIO;
  }
  c->driver = std::make_unique<ferry::sdk::UvDriver>(std::move(loop), *c->core, opts->host,
                                                     opts->port, hooks);
  if (c->events.init() != 0) return FERRY_EIO;
  if (int rc = c->driver->start(); rc != 0) return rc;
  *out = c.release();
  return FERRY_OK;
}

}  // namespace

extern "C" {

int ferry_client_new(const ferry_options_t* opts, ferry_client_t** out) {
  if (!opts || !out) return FERRY_EINVAL;
  *out = nullptr;
  try {
    return create_client(opts, out);
  } catch (const std::bad_alloc&) {
    return FERRY_ENOMEM;
  } catch (...) {
    return FERRY_EIO;  // e.g. std::system_error: the thread could not start
  }
}

void ferry_client_destroy(ferry_client_t* client) {
  if (!client) return;
  check_handle(client);
  // Runs the commands still queued, flushes, closes this client's handles; a shared loop and
  // its other clients carry on.
  client->driver->stop();
  client->magic = 0;
  // Members go in reverse order: driver (and a private loop's thread) before core before
  // store.
  delete client;
}

void ferry_client_set_data(ferry_client_t* client, void* data) {
  if (!client) return;
  check_handle(client);
  client->data = data;
}

void* ferry_client_get_data(const ferry_client_t* client) {
  if (!client) return nullptr;
  check_handle(client);
  return client->data.load();
}

int ferry_client_user(ferry_client_t* client, char* buf, size_t buf_len) {
  if (!client || !buf) return FERRY_EINVAL;
  check_handle(client);
  try {
    ferry::sdk::Session s = client->store->session();
    if (!s.held()) return FERRY_ENOTAUTH;
    if (s.user.size() + 1 > buf_len) return FERRY_EINVAL;
    std::memcpy(buf, s.user.c_str(), s.user.size() + 1);
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

static int credentials_request(ferry_client_t* client, Command::Kind kind, const char* user,
                               const char* password, uint64_t* request_id) {
  if (!client || !user || !password) return FERRY_EINVAL;
  check_handle(client);
  try {
    Command cmd{kind};
    cmd.request_id = client->next_request_id++;
    cmd.user_or_peer = user;
    cmd.password = password;
    if (request_id) *request_id = cmd.request_id;
    enqueue(client, std::move(cmd));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_register(ferry_client_t* client, const char* user, const char* password,
                   uint64_t* request_id) {
  return credentials_request(client, Command::Kind::Register, user, password, request_id);
}

int ferry_login(ferry_client_t* client, const char* user, const char* password,
                uint64_t* request_id) {
  return credentials_request(client, Command::Kind::Login, user, password, request_id);
}

int ferry_logout(ferry_client_t* client) {
  if (!client) return FERRY_EINVAL;
  check_handle(client);
  try {
    // Forget the session now, so ferry_client_user() and ferry_send_text() agree at once;
    // the loop thread then revokes it on the server and drops the in-memory outbox.
    if (!client->store->reset(ferry::sdk::Session{})) return FERRY_ESTATE;
    enqueue(client, Command{Command::Kind::Logout});
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_send_text(ferry_client_t* client, const char* to, const char* text,
                    char local_id[FERRY_LOCAL_ID_SIZE]) {
  if (!client || !to || !text || !*to) return FERRY_EINVAL;
  check_handle(client);
  try {
    size_t len = std::strlen(text);
    if (len == 0 || len > 65536 || !ferry::proto::utf8_valid(std::string_view(text, len))) {
      return FERRY_EBADTEXT;
    }
    if (!client->store->session_held()) return FERRY_ENOTAUTH;
    ferry::sdk::OutboxEntry entry;
    entry.cid = ferry::sdk::new_local_id(client);
    entry.to = to;
    entry.text.assign(text, len);
    entry.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    // Durable before we return: the promise of ferry_send_text().
    if (!client->store->outbox_add(entry)) return FERRY_ESTATE;
    if (local_id) std::memcpy(local_id, entry.cid.c_str(), entry.cid.size() + 1);
    enqueue_send(client, std::move(entry));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_history(ferry_client_t* client, const char* peer, uint64_t before_id, uint32_t limit,
                  uint64_t* request_id) {
  if (!client || !peer || !*peer || limit < 1 || limit > 1000) return FERRY_EINVAL;
  check_handle(client);
  try {
    Command cmd{Command::Kind::History};
    cmd.request_id = client->next_request_id++;
    cmd.user_or_peer = peer;
    cmd.before = before_id;
    cmd.limit = limit;
    if (request_id) *request_id = cmd.request_id;
    enqueue(client, std::move(cmd));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_poll_event(ferry_client_t* client, ferry_event_t** out, int timeout_ms) {
  if (!client || !out) return FERRY_EINVAL;
  check_handle(client);
  *out = nullptr;
  return client->events.pop(out, timeout_ms);
}

void ferry_event_free(ferry_event_t* event) { std::free(event); }

int ferry_event_fd(ferry_client_t* client) {
  if (!client) return FERRY_EINVAL;
  check_handle(client);
  return client->events.fd();
}

}  // extern "C"
