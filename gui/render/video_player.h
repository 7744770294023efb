// Plays a downloaded video into a GL texture: libavformat/libavcodec decode on a thread of
// its own, paced by the frames' timestamps; swscale converts to RGBA (scaled to at most
// 1280 px wide); the UI thread uploads the newest frame once per frame.
//
// Implemented: play, pause, seek (to the key frame before the target), stop at the end.
// Missing: sound, frame dropping when decoding falls behind, hardware decoding.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gui/render/texture_cache.h"

namespace ferry::gui {

class VideoPlayer {
 public:
  VideoPlayer() = default;
  ~VideoPlayer();  // stops the thread; deletes the texture (needs the GL context)
  VideoPlayer(const VideoPlayer&) = delete;
  VideoPlayer& operator=(const VideoPlayer&) = delete;

  // Opens path and starts playing. False with *why when it is not a decodable video.
  bool open(const std::string& path, std::string* why);
  void close();
  bool is_open() const { return thread_.joinable(); }
  const std::string& path() const { return path_; }

  void set_paused(bool paused);
  bool paused() const { return paused_; }
  void seek(double seconds);
  double duration() const { return duration_s_; }
  double position() const { return position_s_; }
  // Frames decoded and shown since open (tests wait for this to grow).
  uint64_t frames_shown() const { return frames_shown_; }

  // Uploads the newest decoded frame, if any, and returns the texture (nullptr before the
  // first frame). Call on the GL thread once per frame.
  const Texture* texture();

 private:
  struct Av;
  void run(Av* av);
  bool wait_until(double pts, double* base_pts, std::chrono::steady_clock::time_point* base);

  std::string path_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> paused_{false};
  double seek_to_ = -1;  // guarded by mu_
  std::atomic<double> position_s_{0};
  double duration_s_ = 0;
  std::atomic<uint64_t> frames_shown_{0};
  // The newest frame (guarded by mu_).
  std::vector<unsigned char> rgba_;
  int w_ = 0, h_ = 0;
  bool fresh_ = false;
  Texture tex_;
};

}  // namespace ferry::gui
