// ferry_download, ferry_download_pause/resume/cancel, ferry_download_url and
// ferry_downloads_list/free: argument checks and the durable record on the calling thread (so
// ferry_download() returns only once the download is in the state directory), then hand-off
// to the loop thread. No C++ exception crosses these functions.
#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sdk/api/client.h"

using ferry::sdk::Command;
using ferry::sdk::PendingDownload;

namespace ferry::sdk {

void run_download_command(ClientCore& core, Command& cmd, uint64_t now) {
  uint64_t id = cmd.download.message_id;
  switch (cmd.kind) {
    case Command::Kind::Download:
      return core.submit_download(cmd.download, now);
    case Command::Kind::DownloadPause:
      core.download_pause(id, now);
      return;
    case Command::Kind::DownloadResume:
      core.download_resume(id, now);
      return;
    case Command::Kind::DownloadCancel:
      core.download_cancel(id, now);
      return;
    case Command::Kind::DownloadUrl:
      return core.request_download_url(cmd.request_id, id, cmd.ttl_s, now);
    default:
      return;
  }
}

}  // namespace ferry::sdk

namespace {

// dest made absolute through its directory (which must exist), so a restart from another
// working directory writes to the same place; the file itself need not exist.
int absolute_dest(const std::string& dest, std::string& out) {
  if (dest.back() == '/') return FERRY_EINVAL;
  size_t slash = dest.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : dest.substr(0, slash);
  std::string base = slash == std::string::npos ? dest : dest.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") return FERRY_EINVAL;
  char resolved[PATH_MAX];
  struct stat st {};
  if (!realpath(dir.c_str(), resolved) || stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
    return FERRY_ENOFILE;
  out = std::string(resolved) + (std::strcmp(resolved, "/") == 0 ? "" : "/") + base;
  return FERRY_OK;
}

int start_download(ferry_client_t* client, uint64_t message_id, const char* dest_path) {
  if (!client->store->session().held()) return FERRY_ENOTAUTH;
  PendingDownload d;
  int rc = absolute_dest(dest_path, d.dest);
  if (rc != FERRY_OK) return rc;
  d.message_id = message_id;
  PendingDownload have;
  if (client->downloads->download_get(message_id, have)) {
    if (have.dest != d.dest) return FERRY_EINVAL;
    d = have;  // already pending: the loop thread picks it up if this client has not yet
  } else {
    d.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    // Durable before we return: the promise of ferry_download().
    if (!client->downloads->download_put(d)) return FERRY_ESTATE;
  }
  Command cmd{Command::Kind::Download};
  cmd.download = std::move(d);
  ferry::sdk::enqueue_command(client, std::move(cmd));
  return FERRY_OK;
}

int download_command(ferry_client_t* client, uint64_t message_id, Command::Kind kind) {
  if (!client || message_id == 0) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  try {
    PendingDownload d;
    if (!client->downloads->download_get(message_id, d)) return FERRY_ENOTFOUND;
    // Pause and resume are durable (they outlive the process); the loop thread applies them
    // to a download in progress.
    if (kind == Command::Kind::DownloadPause || kind == Command::Kind::DownloadResume) {
      d.paused = kind == Command::Kind::DownloadPause;
      if (!client->downloads->download_put(d)) return FERRY_ESTATE;
    }
    Command cmd{kind};
    cmd.download.message_id = message_id;
    ferry::sdk::enqueue_command(client, std::move(cmd));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

}  // namespace

extern "C" {

int ferry_download(ferry_client_t* client, uint64_t message_id, const char* dest_path) {
  if (!client || message_id == 0 || !dest_path || !*dest_path) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  try {
    return start_download(client, message_id, dest_path);
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_download_pause(ferry_client_t* client, uint64_t message_id) {
  return download_command(client, message_id, Command::Kind::DownloadPause);
}

int ferry_download_resume(ferry_client_t* client, uint64_t message_id) {
  return download_command(client, message_id, Command::Kind::DownloadResume);
}

int ferry_download_cancel(ferry_client_t* client, uint64_t message_id) {
  return download_command(client, message_id, Command::Kind::DownloadCancel);
}

int ferry_download_url(ferry_client_t* client, uint64_t message_id, uint32_t ttl_s,
                       uint64_t* request_id) {
  if (!client || message_id == 0 || ttl_s > 604800) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  try {
    Command cmd{Command::Kind::DownloadUrl};
    cmd.request_id = client->next_request_id++;
    cmd.download.message_id = message_id;
    cmd.ttl_s = ttl_s;
    if (request_id) *request_id = cmd.request_id;
    ferry::sdk::enqueue_command(client, std::move(cmd));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_downloads_list(ferry_client_t* client, ferry_download_info_t** list, size_t* count) {
  if (!client || !list || !count) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  *list = nullptr;
  *count = 0;
  try {
    std::vector<PendingDownload> ds = client->downloads->downloads();
    // One block: the array, then every string, so ferry_downloads_free() is one free().
    size_t bytes = ds.size() * sizeof(ferry_download_info_t);
    for (const PendingDownload& d : ds) bytes += d.dest.size() + d.name.size() + 2;
    auto* block = static_cast<char*>(std::calloc(1, bytes ? bytes : 1));
    if (!block) return FERRY_ENOMEM;
    auto* out = reinterpret_cast<ferry_download_info_t*>(block);
    char* p = block + ds.size() * sizeof(ferry_download_info_t);
    auto put = [&p](const std::string& s) {
      char* at = p;
      std::memcpy(at, s.c_str(), s.size() + 1);
      p += s.size() + 1;
      return at;
    };
    for (size_t i = 0; i < ds.size(); i++) {
      out[i].message_id = ds[i].message_id;
      out[i].path = put(ds[i].dest);
      out[i].name = put(ds[i].name);
      out[i].size = ds[i].size;
      out[i].paused = ds[i].paused ? 1 : 0;
    }
    *list = out;
    *count = ds.size();
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

void ferry_downloads_free(ferry_download_info_t* list, size_t count) {
  (void)count;
  std::free(list);
}

}  // extern "C"
