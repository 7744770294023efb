// Image probing and JPEG thumbnails with stb (Debian's libstb: stb_image, stb_image_resize,
// stb_image_write are compiled into libstb, so no *_IMPLEMENTATION here).
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "sdk/media/thumbnail.h"

namespace ferry::media {

static void append_bytes(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
}

bool make_thumbnail(const unsigned char* rgb, int width, int height, MediaInfo& out) {
  if (width <= 0 || height <= 0) return false;
  double scale = std::min(1.0, double(kThumbMaxSide) / double(std::max(width, height)));
  int tw = std::max(1, int(width * scale + 0.5)), th = std::max(1, int(height * scale + 0.5));
  std::vector<unsigned char> small(size_t(tw) * size_t(th) * 3);
  if (!stbir_resize_uint8(rgb, width, height, 0, small.data(), tw, th, 0, 3)) return false;
  // Lower the quality until it fits: the thumbnail rides inside a chat message.
  for (int quality : {80, 65, 50, 35, 20}) {
    std::string jpeg;
    if (!stbi_write_jpg_to_func(append_bytes, &jpeg, tw, th, 3, small.data(), quality)) return false;
    if (jpeg.size() <= kThumbMaxBytes) {
      out.thumb_jpeg = std::move(jpeg);
      out.thumb_width = tw;
      out.thumb_height = th;
      return true;
    }
  }
  return false;
}

bool probe_image(const std::string& path, MediaInfo& out, std::string& err) {
  int w = 0, h = 0, comp = 0;
  if (!stbi_info(path.c_str(), &w, &h, &comp)) {
    err = std::string("cannot read image: ") + stbi_failure_reason();
    return false;
  }
  // Refuse decompression bombs before allocating: 100 megapixels is far above any camera
  // photo a chat would carry.
  if (int64_t(w) * int64_t(h) > 100'000'000) {
    err = "image too large to preview (" + std::to_string(w) + "x" + std::to_string(h) + ")";
    out.width = w;
    out.height = h;
    return false;
  }
  std::unique_ptr<unsigned char, void (*)(void*)> px(stbi_load(path.c_str(), &w, &h, &comp, 3),
                                                     stbi_image_free);
  if (!px) {
    err = std::string("cannot decode image: ") + stbi_failure_reason();
    return false;
  }
  out.width = w;
  out.height = h;
  if (!make_thumbnail(px.get(), w, h, out)) {
    err = "cannot encode thumbnail";
    return false;
  }
  return true;
}

}  // namespace ferry::media
