// stb_image's implementation is compiled into Debian's libstb.
#include "gui/render/texture_cache.h"

#include <GLFW/glfw3.h>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>

namespace ferry::gui {

TextureCache::TextureCache(size_t max_textures) : max_(max_textures ? max_textures : 1) {
  worker_ = std::thread([this] { run(); });
}

TextureCache::~TextureCache() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
  for (auto& [key, e] : entries_) glDeleteTextures(1, &e.tex.id);
}

TextureCache::Decoded TextureCache::decode(Job& job) {
  Decoded d;
  d.key = std::move(job.key);
  int comp = 0;
  unsigned char* px =
      job.bytes.empty()
          ? stbi_load(job.path.c_str(), &d.w, &d.h, &comp, 4)
          : stbi_load_from_memory(job.bytes.data(), int(job.bytes.size()), &d.w, &d.h, &comp, 4);
  if (!px) return d;
  int side = std::max(d.w, d.h);
  if (job.max_side > 0 && side > job.max_side) {
    float s = float(job.max_side) / float(side);
    int w = std::max(1, int(float(d.w) * s)), h = std::max(1, int(float(d.h) * s));
    d.rgba.resize(size_t(w) * size_t(h) * 4);
    stbir_resize_uint8(px, d.w, d.h, 0, d.rgba.data(), w, h, 0, 4);
    d.w = w;
    d.h = h;
  } else {
    d.rgba.assign(px, px + size_t(d.w) * size_t(d.h) * 4);
  }
  stbi_image_free(px);
  return d;
}

void TextureCache::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
      if (stopping_) return;
      job = std::move(todo_.front());
      todo_.pop_front();
    }
    Decoded d = decode(job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(d));
    }
    glfwPostEmptyEvent();  // let a sleeping UI thread upload it
  }
}

const Texture* TextureCache::lookup_or_queue(Job job) {
  auto it = entries_.find(job.key);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.tex;
  }
  if ((job.bytes.empty() && job.path.empty()) || failed_.count(job.key) || queued_.count(job.key))
    return nullptr;
  queued_.insert(job.key);
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo_.push_back(std::move(job));
  }
  cv_.notify_one();
  return nullptr;
}

const Texture* TextureCache::get(const std::string& key, const std::vector<unsigned char>& jpeg) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {  // the common case: no copy of the bytes
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return &it->second.tex;
  }
  if (jpeg.empty() || failed_.count(key) || queued_.count(key)) return nullptr;
  return lookup_or_queue(Job{key, jpeg, "", 0});
}

const Texture* TextureCache::get_file(const std::string& key, const std::string& path,
                                      int max_side) {
  return lookup_or_queue(Job{key, {}, path, max_side});
}

int TextureCache::upload_ready(int max) {
  int n = 0;
  while (n < max) {
    Decoded d;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_.empty()) break;
      d = std::move(done_.front());
      done_.pop_front();
    }
    queued_.erase(d.key);
    n++;
    if (d.rgba.empty()) {
      failed_.insert(d.key);
      continue;
    }
    Texture t;
    t.w = d.w;
    t.h = d.h;
    glGenTextures(1, &t.id);
    glBindTexture(GL_TEXTURE_2D, t.id);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, d.w, d.h, 0, GL_RGBA, GL_UNSIGNED_BYTE, d.rgba.data());
    lru_.push_front(d.key);
    entries_[d.key] = Entry{t, lru_.begin()};
    evict();
  }
  return n;
}

void TextureCache::evict() {
  while (entries_.size() > max_) {
    auto it = entries_.find(lru_.back());
    glDeleteTextures(1, &it->second.tex.id);
    entries_.erase(it);
    lru_.pop_back();
  }
}

bool TextureCache::busy() {
  std::lock_guard<std::mutex> lock(mu_);
  return !queued_.empty() || !done_.empty();
}

}  // namespace ferry::gui
