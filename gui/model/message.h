// One bubble's data: a text or media message as ferry reported it, plus what this app tracks
// about it locally (upload/download progress, the path of a file it sent or downloaded).
// Plain C++: no ImGui, no SDK calls, so the model is unit-testable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::gui {

// Values mirror ferry.h's enums so the model can be fed hand-made events in tests.
enum class MsgStatus { kPending = 1, kSent, kFailed, kUploading, kReady, kCancelled };
enum class MediaKind { kNone = 0, kImage = 1, kVideo = 2, kFile = 3 };
enum class DownloadState {
  kNone = 0,
  kFetching,
  kRetrying,
  kPaused,
  kVerifying,
  kDone,
  kFailed,
  kCancelled
};

struct Message {
  uint64_t id = 0;       // server id; 0 while pending
  uint64_t serial = 0;   // unique per bubble for this app's life (the UI's caches key on it)
  std::string local_id;  // the sender's id ("cid"); may be empty for status-only updates
  std::string from, to;
  std::string text;  // text messages
  int64_t ts_ms = 0;
  MsgStatus status = MsgStatus::kPending;
  int error = 0;  // why it FAILED (a FERRY_E* code), else 0

  // Media (kind != kNone).
  MediaKind kind = MediaKind::kNone;
  std::string name, mime, sha256;
  uint64_t size = 0;
  uint32_t width = 0, height = 0;
  uint64_t duration_ms = 0;
  std::vector<unsigned char> thumb;  // JPEG bytes as the message carries them
  uint64_t upload_done = 0;          // bytes the resource server holds
  bool upload_paused = false;
  std::string local_path;  // the file this app sent (for retry), if known

  DownloadState download = DownloadState::kNone;
  uint64_t download_done = 0, download_total = 0;
  std::string download_path;  // destination once a download started

  bool is_media() const { return kind != MediaKind::kNone; }
  // A stable key for caches (textures): the local id, else the server id.
  std::string key() const { return local_id.empty() ? "#" + std::to_string(id) : local_id; }
  // Upload fraction in [0, 1] (1 when READY).
  double upload_fraction() const;
  double download_fraction() const;
};

const char* status_name(MsgStatus s);
// "SENT" -> kSent; returns false for an unknown name.
bool parse_status(const std::string& name, MsgStatus* out);
// "1.2 MiB", "512 B".
std::string human_size(uint64_t bytes);
// "0:07", "1:02:03".
std::string human_duration(uint64_t ms);

}  // namespace ferry::gui
