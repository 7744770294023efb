// Where pending downloads are remembered across app restarts. A separate interface from
// StateStore so that stores (and test fakes) that predate downloads keep compiling: the
// SQLite and memory stores implement both, and DownloadManager falls back to its own
// in-memory table when the state store does not.
//
// Threads: implementations are safe to call from any thread (ferry_download() records the
// download on the app's thread before returning; the loop thread updates it afterwards).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sdk {

// One download the app asked for and that has not finished (ferry_download). The bytes
// already fetched live in the partial file "<dest>.part", whose size is the resume point, so
// nothing here changes while bytes arrive. size/sha256/name/mime are empty until the chat
// server first granted a URL.
struct PendingDownload {
  uint64_t message_id = 0;
  std::string dest;  // absolute destination path
  uint64_t size = 0;
  std::string sha256;  // 64 hex; the ETag for If-Range and the final check
  std::string name;
  std::string mime;
  bool paused = false;
  int64_t created_ms = 0;
};

class DownloadStore {
 public:
  virtual ~DownloadStore() = default;
  // Oldest first.
  virtual std::vector<PendingDownload> downloads() = 0;
  virtual bool download_get(uint64_t message_id, PendingDownload& out) = 0;
  // Inserts or replaces the record of that message id (keeping its place in the order).
  virtual bool download_put(const PendingDownload& d) = 0;
  virtual bool download_remove(uint64_t message_id) = 0;
};

// The partial file of a destination.
inline std::string partial_path(const std::string& dest) { return dest + ".part"; }

}  // namespace ferry::sdk
