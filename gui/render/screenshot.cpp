// stb_image_write's implementation is compiled into Debian's libstb, so no
// STB_IMAGE_WRITE_IMPLEMENTATION here.
#include "gui/render/screenshot.h"

#include <GLFW/glfw3.h>
#include <stb/stb_image_write.h>

#include <vector>

namespace ferry::gui {

bool save_screenshot(const std::string& path, int w, int h, std::string* why) {
  if (w <= 0 || h <= 0) {
    *why = "the window has no size";
    return false;
  }
  std::vector<unsigned char> px(size_t(w) * size_t(h) * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, px.data());
  if (glGetError() != GL_NO_ERROR) {
    *why = "glReadPixels failed";
    return false;
  }
  // OpenGL's first row is the bottom one; PNG's is the top.
  stbi_flip_vertically_on_write(1);
  if (!stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3)) {
    *why = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace ferry::gui
