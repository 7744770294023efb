// A bounded cache of GL textures made from the JPEG thumbnails messages carry.
//
// Decoding (stb_image) runs on one worker thread, so a conversation full of images never
// stalls a frame; the UI thread only uploads finished pixels (a few per frame) and evicts the
// least recently used texture beyond `max_textures`. A bubble whose texture is not ready yet
// draws a placeholder of the right size and gets its picture a frame or two later.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ferry::gui {

struct Texture {
  unsigned int id = 0;  // GL texture name
  int w = 0, h = 0;
};

class TextureCache {
 public:
  explicit TextureCache(size_t max_textures = 128);
  ~TextureCache();  // stops the worker; deletes the GL textures (needs the GL context)
  TextureCache(const TextureCache&) = delete;
  TextureCache& operator=(const TextureCache&) = delete;

  // The texture for key, or nullptr while it is decoding (the first call queues the bytes;
  // a decode that failed stays nullptr and is not retried).
  const Texture* get(const std::string& key, const std::vector<unsigned char>& jpeg);
  // The same for an image file on disk (a downloaded picture for the full-size view), scaled
  // down on the worker to fit max_side x max_side.
  const Texture* get_file(const std::string& key, const std::string& path, int max_side = 2048);
  // Uploads up to max decoded images to GL. Call once per frame on the GL thread. Returns the
  // number uploaded (non-zero means the frame should be drawn again).
  int upload_ready(int max = 8);
  bool busy();  // decodes queued or not yet uploaded
  size_t size() const { return entries_.size(); }

 private:
  struct Decoded {
    std::string key;
    int w = 0, h = 0;
    std::vector<unsigned char> rgba;  // empty: the decode failed
  };
  struct Entry {
    Texture tex;
    std::list<std::string>::iterator lru;
  };
  struct Job {
    std::string key;
    std::vector<unsigned char> bytes;  // encoded image, or empty to read `path`
    std::string path;
    int max_side = 0;
  };
  void run();
  void evict();
  const Texture* lookup_or_queue(Job job);
  static Decoded decode(Job& job);

  size_t max_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recently used
  std::unordered_set<std::string> queued_, failed_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> todo_;
  std::deque<Decoded> done_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ferry::gui
