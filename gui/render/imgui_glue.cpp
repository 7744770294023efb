#include "gui/render/imgui_glue.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <imgui_internal.h>  // ImTextCharFromUtf8
#include <unistd.h>

#include <set>

namespace ferry::gui {

namespace {

const char* const kCjkFonts[] = {
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
};

// Glyphs asked for and not yet in the atlas, and every glyph ever added beyond the common
// range (so one the font file lacks is asked for once, not every frame).
std::set<ImWchar> g_missing, g_extra;

void style_colors() {
  ImGui::StyleColorsDark();
  ImGuiStyle& s = ImGui::GetStyle();
  s.WindowRounding = 0.0f;
  s.FrameRounding = 4.0f;
  s.ItemSpacing = ImVec2(8, 6);
}

}  // namespace

ImGuiGlue::~ImGuiGlue() {
  if (!ready_) return;
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
}

bool ImGuiGlue::init(GLFWwindow* win, const char* glsl_version, const std::string& font_path) {
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // no imgui.ini in the working directory: layout is code
  style_colors();
  if (!ImGui_ImplGlfw_InitForOpenGL(win, true)) return false;
  if (!ImGui_ImplOpenGL3_Init(glsl_version)) {
    ImGui_ImplGlfw_Shutdown();
    return false;
  }
  ready_ = true;
  font_ = font_path;
  if (font_.empty()) {
    for (const char* p : kCjkFonts) {
      if (access(p, R_OK) == 0) {
        font_ = p;
        break;
      }
    }
  }
  if (!load_font()) {
    font_.clear();
    io.Fonts->AddFontDefault();
  }
  return true;
}

bool ImGuiGlue::load_font() {
  if (font_.empty()) return false;
  // The common Simplified Chinese range (about 2,500 ideographs) keeps the atlas small enough
  // to build in a fraction of a second under llvmpipe; the full range is 20,000+ glyphs.
  ImGuiIO& io = ImGui::GetIO();
  static ImVector<ImWchar> ranges;  // must outlive the atlas build
  ImFontGlyphRangesBuilder b;
  b.AddRanges(io.Fonts->GetGlyphRangesChineseSimplifiedCommon());
  for (ImWchar c : g_extra) b.AddChar(c);
  ranges.clear();
  b.BuildRanges(&ranges);
  io.Fonts->Clear();
  return io.Fonts->AddFontFromFileTTF(font_.c_str(), 18.0f, nullptr, ranges.Data) != nullptr;
}

void request_glyphs(const std::string& text) {
  ImFont* font = ImGui::GetFont();
  const char* p = text.c_str();
  const char* end = p + text.size();
  while (p < end) {
    unsigned int c = 0;
    int n = ImTextCharFromUtf8(&c, p, end);
    if (n <= 0) break;
    p += n;
    if (c < 0x80 || c > 0xFFFF) continue;  // ASCII is always there; ImWchar is 16-bit here
    ImWchar w = ImWchar(c);
    if (!g_extra.count(w) && !font->FindGlyphNoFallback(w)) g_missing.insert(w);
  }
}

void ImGuiGlue::begin_frame() {
  if (!g_missing.empty() && !font_.empty()) {
    g_extra.insert(g_missing.begin(), g_missing.end());
    g_missing.clear();
    if (!load_font()) ImGui::GetIO().Fonts->AddFontDefault();
    ImGui::GetIO().Fonts->Build();
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
}

void ImGuiGlue::end_frame() {
  ImGui::Render();
  int w = 0, h = 0;
  glfwGetFramebufferSize(glfwGetCurrentContext(), &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(0.10f, 0.11f, 0.13f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

}  // namespace ferry::gui
