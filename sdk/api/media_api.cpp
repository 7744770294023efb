// ferry_send_file, ferry_upload_pause/resume/cancel, ferry_uploads_list/free: argument checks
// and the durable record on the calling thread (so ferry_send_file() returns only once the
// upload is in the state directory), then hand-off to the loop thread. No C++ exception
// crosses these functions.
#include <climits>
#include <cstdlib>
#include <cstring>

#include <chrono>

#include "proto/hex.h"
#include "proto/json.h"
#include "sdk/api/client.h"
#include "sdk/uv/file_identity.h"

using ferry::sdk::Command;
using ferry::sdk::PendingUpload;

namespace ferry::sdk {

void run_media_command(ClientCore& core, Command& cmd, uint64_t now) {
  switch (cmd.kind) {
    case Command::Kind::SendFile:
      return core.submit_upload(cmd.upload, now);
    case Command::Kind::Pause:
      core.upload_pause(cmd.upload.cid, now);
      return;
    case Command::Kind::Resume:
      core.upload_resume(cmd.upload.cid, now);
      return;
    case Command::Kind::Cancel:
      core.upload_cancel(cmd.upload.cid, now);
      return;
    default:
      return;
  }
}

}  // namespace ferry::sdk

namespace {

// The server's rule for display names: 1-255 bytes of UTF-8 without C0/C1 controls or DEL.
bool display_name_ok(const std::string& name) {
  if (name.empty() || name.size() > 255 || !ferry::proto::utf8_valid(name)) return false;
  for (size_t i = 0; i < name.size(); i++) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < name.size()) {
      auto d = static_cast<unsigned char>(name[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return false;
    }
  }
  return true;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

int send_file(ferry_client_t* client, const char* to, const char* path, int kind,
              const char* display_name, char local_id[FERRY_LOCAL_ID_SIZE]) {
  if (!client->store->session().held()) return FERRY_ENOTAUTH;
  // Absolute, so a restart from another working directory finds the same file.
  char resolved[PATH_MAX];
  if (!realpath(path, resolved)) return FERRY_ENOFILE;
  ferry::sdk::FileIdentity id;
  std::string why;
  if (ferry::sdk::identify_file(resolved, id, why) != FERRY_OK) return FERRY_ENOFILE;
  PendingUpload u;
  u.cid = ferry::proto::random_hex((FERRY_LOCAL_ID_SIZE - 1) / 2);
  u.to = to;
  u.path = resolved;
  u.name = display_name ? display_name : base_name(path);
  if (!display_name_ok(u.name)) return FERRY_EINVAL;
  u.kind = kind;
  u.size = id.size;
  u.mtime_ns = id.mtime_ns;
  u.inode = id.inode;
  u.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  // Durable before we return: the promise of ferry_send_file().
  if (!client->store->upload_put(u)) return FERRY_ESTATE;
  if (local_id) std::memcpy(local_id, u.cid.c_str(), u.cid.size() + 1);
  Command cmd{Command::Kind::SendFile};
  cmd.upload = std::move(u);
  ferry::sdk::enqueue_command(client, std::move(cmd));
  return FERRY_OK;
}

int upload_command(ferry_client_t* client, const char* local_id, Command::Kind kind) {
  if (!client || !local_id) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  try {
    PendingUpload u;
    if (!client->store->upload_get(local_id, u)) return FERRY_ENOTFOUND;
    Command cmd{kind};
    cmd.upload.cid = local_id;
    ferry::sdk::enqueue_command(client, std::move(cmd));
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

}  // namespace

extern "C" {

int ferry_send_file(ferry_client_t* client, const char* to, const char* path, int kind,
                    const char* display_name, char local_id[FERRY_LOCAL_ID_SIZE]) {
  if (!client || !to || !*to || !path || !*path) return FERRY_EINVAL;
  if (kind < FERRY_KIND_AUTO || kind > FERRY_KIND_FILE) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  try {
    return send_file(client, to, path, kind, display_name, local_id);
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

int ferry_upload_pause(ferry_client_t* client, const char* local_id) {
  return upload_command(client, local_id, Command::Kind::Pause);
}

int ferry_upload_resume(ferry_client_t* client, const char* local_id) {
  return upload_command(client, local_id, Command::Kind::Resume);
}

int ferry_upload_cancel(ferry_client_t* client, const char* local_id) {
  return upload_command(client, local_id, Command::Kind::Cancel);
}

int ferry_uploads_list(ferry_client_t* client, ferry_upload_info_t** list, size_t* count) {
  if (!client || !list || !count) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  *list = nullptr;
  *count = 0;
  try {
    std::vector<PendingUpload> ups = client->store->uploads();
    // One block: the array, then every string, so ferry_uploads_free() is one free().
    size_t bytes = ups.size() * sizeof(ferry_upload_info_t);
    for (const PendingUpload& u : ups) {
      bytes += u.cid.size() + u.to.size() + u.path.size() + u.name.size() + 4;
    }
    auto* block = static_cast<char*>(std::calloc(1, bytes ? bytes : 1));
    if (!block) return FERRY_ENOMEM;
    auto* out = reinterpret_cast<ferry_upload_info_t*>(block);
    char* p = block + ups.size() * sizeof(ferry_upload_info_t);
    auto put = [&p](const std::string& s) {
      char* at = p;
      std::memcpy(at, s.c_str(), s.size() + 1);
      p += s.size() + 1;
      return at;
    };
    for (size_t i = 0; i < ups.size(); i++) {
      const PendingUpload& u = ups[i];
      out[i].local_id = put(u.cid);
      out[i].message_id = u.message_id;
      out[i].to = put(u.to);
      out[i].path = put(u.path);
      out[i].name = put(u.name);
      out[i].size = u.size;
      out[i].done = u.done;
      out[i].paused = u.paused ? 1 : 0;
    }
    *list = out;
    *count = ups.size();
    return FERRY_OK;
  } catch (...) {
    return FERRY_ENOMEM;
  }
}

void ferry_uploads_free(ferry_upload_info_t* list, size_t count) {
  (void)count;
  std::free(list);
}

}  // extern "C"
