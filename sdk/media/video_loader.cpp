// probe_video(): loads libferry_video.so on first use and calls into it (video_module.h).
//
// Where the module is looked for, first found wins:
//   1. $FERRY_VIDEO_MODULE, a path to the module (apps that ship it somewhere of their own);
//      when set, nowhere else: the app chose that file;
//   2. beside the binary that holds this code, in ferry/ (an installed libferry.so in
//      LIBDIR finds LIBDIR/ferry/) or right there (the build tree puts it next to libferry.so);
//   3. where this build installs it, and where this build tree made it.
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "sdk/media/thumbnail.h"
#include "sdk/media/video_module.h"

namespace ferry::media {
namespace {

struct Module {
  ferry_video_probe_fn probe = nullptr;
  std::string err;  // why it could not be loaded
};

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("FERRY_VIDEO_MODULE"); env && *env) return {env};
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&probe_video), &info) && info.dli_fname) {
    std::string self = info.dli_fname;
    auto slash = self.rfind('/');
    std::string dir = slash == std::string::npos ? "." : self.substr(0, slash);
    out.push_back(dir + "/ferry/" FERRY_VIDEO_MODULE_NAME);
    out.push_back(dir + "/" FERRY_VIDEO_MODULE_NAME);
  }
#ifdef FERRY_VIDEO_MODULE_INSTALLED
  out.push_back(FERRY_VIDEO_MODULE_INSTALLED);
#endif
#ifdef FERRY_VIDEO_MODULE_BUILT
  out.push_back(FERRY_VIDEO_MODULE_BUILT);
#endif
  return out;
}

const Module& module() {
  static Module m;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    for (const std::string& path : candidates()) {
      // RTLD_LOCAL: libav's symbols stay out of the app's namespace.
      if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        m.probe = reinterpret_cast<ferry_video_probe_fn>(dlsym(h, FERRY_VIDEO_PROBE_SYMBOL));
        if (m.probe) return;  // loaded for the life of the process
        dlclose(h);
      }
      tried += (tried.empty() ? "" : ", ") + path;
    }
    m.err = "video previews need " FERRY_VIDEO_MODULE_NAME
            " (set FERRY_VIDEO_MODULE to its path); not found or not loadable at: " + tried;
  });
  return m;
}

}  // namespace

bool probe_video(const std::string& path, MediaInfo& out, std::string& err) {
  const Module& m = module();
  if (!m.probe) {
    err = m.err;
    return false;
  }
  ferry_video_probe_result r{};
  if (!m.probe(path.c_str(), &r)) {
    err = r.err;
    return false;
  }
  out.width = r.width;
  out.height = r.height;
  out.duration_ms = r.duration_ms;
  if (r.thumb_jpeg) {
    out.thumb_jpeg.assign(reinterpret_cast<const char*>(r.thumb_jpeg), r.thumb_len);
    out.thumb_width = r.thumb_width;
    out.thumb_height = r.thumb_height;
    std::free(r.thumb_jpeg);
  }
  return true;
}

}  // namespace ferry::media
