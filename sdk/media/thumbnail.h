// Media inspection for outgoing messages: MIME type from the file's first bytes, image and
// video dimensions, video duration, and a small JPEG thumbnail that travels inline with the
// message so the receiver shows a preview at once (issue #3, section 1).
//
// Images are decoded and scaled with stb; videos' first frame with libavformat/libavcodec/
// libswscale, in a module loaded on first use (video_module.h). These read files, so they run
// on the SDK's worker threads, never in core/.
#pragma once

#include <cstdint>
#include <string>

namespace ferry::media {

// Thumbnails fit in this box (longest side) and under this many bytes of JPEG.
inline constexpr int kThumbMaxSide = 320;
inline constexpr size_t kThumbMaxBytes = 48 * 1024;

struct MediaInfo {
  std::string mime = "application/octet-stream";
  int width = 0;  // 0 when not an image/video
  int height = 0;
  int64_t duration_ms = 0;  // videos only
  std::string thumb_jpeg;  // empty when no preview could be made
  int thumb_width = 0;
  int thumb_height = 0;
};

// MIME type from magic bytes (JPEG, PNG, GIF, WebP, BMP, MP4/MOV, WebM/MKV, AVI, PDF, ZIP,
// plain text), falling back to application/octet-stream. Never trusts the file name.
std::string sniff_mime(const std::string& path);

// Fills dimensions and a thumbnail for an image. False with `err` when stb cannot decode it.
bool probe_image(const std::string& path, MediaInfo& out, std::string& err);
// Fills dimensions, duration and a first-frame thumbnail for a video. Loads libferry_video.so
// on first use (video_module.h); without it, false with `err` naming where it was looked for.
bool probe_video(const std::string& path, MediaInfo& out, std::string& err);
// The libav implementation inside the module.
bool probe_video_libav(const std::string& path, MediaInfo& out, std::string& err);

// Scales RGB pixels to fit kThumbMaxSide and encodes a JPEG under kThumbMaxBytes.
bool make_thumbnail(const unsigned char* rgb, int width, int height, MediaInfo& out);

}  // namespace ferry::media
