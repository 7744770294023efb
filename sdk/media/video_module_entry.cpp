// libferry_video.so's one exported function (see video_module.h): probe_video_libav() behind
// a C interface.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sdk/media/thumbnail.h"
#include "sdk/media/video_module.h"

extern "C" __attribute__((visibility("default"))) int ferry_video_probe_v1(
    const char* path, ferry_video_probe_result* out) {
  std::memset(out, 0, sizeof *out);
  ferry::media::MediaInfo info;
  std::string err;
  if (!ferry::media::probe_video_libav(path, info, err)) {
    std::snprintf(out->err, sizeof out->err, "%s", err.c_str());
    return 0;
  }
  out->width = info.width;
  out->height = info.height;
  out->duration_ms = info.duration_ms;
  if (!info.thumb_jpeg.empty()) {
    out->thumb_jpeg = static_cast<unsigned char*>(std::malloc(info.thumb_jpeg.size()));
    if (!out->thumb_jpeg) {
      std::snprintf(out->err, sizeof out->err, "out of memory");
      return 0;
    }
    std::memcpy(out->thumb_jpeg, info.thumb_jpeg.data(), info.thumb_jpeg.size());
    out->thumb_len = info.thumb_jpeg.size();
    out->thumb_width = info.thumb_width;
    out->thumb_height = info.thumb_height;
  }
  return 1;
}
