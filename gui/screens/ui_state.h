// What the screens remember between frames that is not app state: input buffers, the message
// being composed (text and dropped files in order), scroll anchors, measured bubble heights,
// open popups. The AppModel holds everything ferry told us; this holds only the UI's own bits.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry::gui {

class TextureCache;
class VideoPlayer;

// One piece of an outgoing message, in the order the person composed it.
struct ComposeItem {
  bool is_file = false;
  std::string value;  // the text, or the file's path
};

struct UiState {
  std::string server;  // shown on the login screen
  // Login screen.
  std::string user, password;
  // Conversation list.
  std::string new_peer;
  // Composer: text typed so far and what was queued before it (text before a drop, files).
  std::string compose;
  std::vector<ComposeItem> queue;
  // Chat view: measured bubble heights by message key (cleared when the width changes), the
  // width they were measured at, and the first bubble's key with its offset, so that loading
  // older history keeps the visible bubbles in place.
  std::unordered_map<uint64_t, float> heights;  // by Message::serial
  float heights_width = 0;
  uint64_t anchor_key = 0;
  float anchor_y = 0;
  std::string anchor_peer;
  uint64_t seen_revision = 0;
  bool stick_to_bottom = true;
  int scroll_to_bottom_frames = 0;
  // Context menu actions waiting for an answer.
  std::set<uint64_t> link_requests;
  std::string save_as_key, save_as_path;
  bool open_save_as = false;
  // The full-size image view (a downloaded picture), when open.
  std::string viewer_path, viewer_title;
  bool open_viewer = false;
  // In-app video playback, when open.
  std::string video_title;
  bool open_video = false;
  VideoPlayer* video = nullptr;      // owned by the app
  TextureCache* textures = nullptr;  // owned by the app
  float bench_scroll_step = 0;       // --bench-frames: scroll this much per frame
};

}  // namespace ferry::gui
