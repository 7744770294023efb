// Renderer glue: Dear ImGui over GLFW + OpenGL 3 (the backends in Debian's libimgui.a), the
// fonts (a CJK font from fonts-wqy-microhei so Chinese renders), and frame begin/end.
//
// Implemented: GL3 renderer, GLFW input, CJK font with the Simplified Chinese common range
// plus Latin, grown on demand: text about to be drawn asks for glyphs the atlas lacks
// (request_glyphs) and the atlas is rebuilt with them before the next frame, so rarer
// ideographs render without paying for the full 20,000-glyph range up front. Falls back to
// ImGui's built-in font (Latin only) when no CJK font is found.
// Missing: DPI scaling, font merging for emoji.
#pragma once

#include <string>

struct GLFWwindow;

namespace ferry::gui {

class ImGuiGlue {
 public:
  ImGuiGlue() = default;
  ~ImGuiGlue();
  ImGuiGlue(const ImGuiGlue&) = delete;
  ImGuiGlue& operator=(const ImGuiGlue&) = delete;

  // Sets ImGui up for this window and context. font_path "" = search the usual places.
  bool init(GLFWwindow* win, const char* glsl_version, const std::string& font_path);
  void begin_frame();
  void end_frame();  // renders the frame into the back buffer (not swapped)
  const std::string& font_loaded() const { return font_; }

 private:
  bool load_font();
  bool ready_ = false;
  std::string font_;
};

// Asks for the glyphs of UTF-8 `text` that the font lacks; they are in the atlas from the next
// frame on. Cheap enough to call for every visible string each frame.
void request_glyphs(const std::string& text);

}  // namespace ferry::gui
