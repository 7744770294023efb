// The struct behind ferry_client_t: the state store, the core, the libuv driver (on the
// client's own loop thread or one shared with other clients), the command queue in and the
// event queue out.
//
// Threads: app threads only touch `commands` (under commands_mu), `events`, `store` (which
// is thread-safe) and the atomics. Everything else belongs to the loop thread: the driver
// starts there in ferry_client_new() and has stopped when ferry_client_destroy() frees it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sdk/api/event_queue.h"
#include "sdk/core/client_core.h"
#include "sdk/core/state_store.h"
#include "sdk/uv/uv_driver.h"

namespace ferry::sdk {

struct Command {
  enum class Kind {
    Register,
    Login,
    Logout,
    Send,
    History,
    SendFile,
    Pause,
    Resume,
    Cancel,
    Download,
    DownloadPause,
    DownloadResume,
    DownloadCancel,
    DownloadUrl
  };
  explicit Command(Kind k) : kind(k) {}
  Kind kind;
  uint64_t request_id = 0;
  std::string user_or_peer;
  std::string password;
  uint64_t before = 0;
  uint32_t limit = 0;
  OutboxEntry entry;
  PendingUpload upload;      // SendFile; Pause/Resume/Cancel use upload.cid
  PendingDownload download;  // Download; the other Download* use download.message_id
  uint32_t ttl_s = 0;        // DownloadUrl
};

// Loop thread: applies one media command (media_api.cpp) or download command
// (download_api.cpp).
void run_media_command(ClientCore& core, Command& cmd, uint64_t now_ms);
void run_download_command(ClientCore& core, Command& cmd, uint64_t now_ms);

}  // namespace ferry::sdk

struct ferry_client {
  // Checked on every call: a stale or foreign pointer is a programmer error and aborts.
  static constexpr uint32_t kMagic = 0xfe77c11e;
  uint32_t magic = kMagic;
  std::atomic<void*> data{nullptr};
  std::unique_ptr<ferry::sdk::StateStore> store;
  // The same object as `store` (both stores keep downloads); thread-safe like it.
  ferry::sdk::DownloadStore* downloads = nullptr;
  std::unique_ptr<ferry::sdk::ClientCore> core;
  std::unique_ptr<ferry::sdk::UvDriver> driver;
  ferry::sdk::EventQueue events;
  std::mutex commands_mu;
  // Vectors, not deques: a Command is too big for a deque to hold more than one per
  // allocation. The loop swaps `commands` with `command_batch` (loop thread only), so both
  // keep their capacity and a send allocates nothing here.
  std::vector<ferry::sdk::Command> commands;
  std::vector<ferry::sdk::Command> command_batch;
  std::vector<ferry_event_t*> publish_batch;  // loop thread only: publish_events() scratch
  std::atomic<uint64_t> next_request_id{1};
  // Random bytes for local ids, drawn from RAND_bytes 64 ids at a time (each draw costs a
  // getpid() syscall and the DRBG's locking); app threads take ids under cid_mu.
  std::mutex cid_mu;
  std::string cid_pool;
  size_t cid_pool_used = 0;
};

// The struct behind ferry_loop_t: the app's reference to a loop clients may share.
struct ferry_loop {
  static constexpr uint32_t kMagic = 0xfe7710a9;
  uint32_t magic = kMagic;
  std::shared_ptr<ferry::sdk::UvLoop> loop;
};

namespace ferry::sdk {
// Shared by the API files (client.cpp): hand a command to the loop thread; abort on a stale
// or foreign handle.
void enqueue_command(ferry_client_t* c, Command cmd);
void check_client(const ferry_client_t* c);
// A fresh random local id (2 * ((FERRY_LOCAL_ID_SIZE - 1) / 2) hex digits), any thread.
std::string new_local_id(ferry_client_t* c);
}  // namespace ferry::sdk
