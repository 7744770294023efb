// The full-size view of a downloaded image: decoded from the file on the texture cache's
// worker (scaled to at most 2048 px), shown fitted into the window with its aspect kept.
#include <imgui.h>

#include <algorithm>
#include <cstdint>

#include "gui/render/imgui_glue.h"
#include "gui/render/texture_cache.h"
#include "gui/screens/screens.h"

namespace ferry::gui {

void draw_image_viewer(UiState& ui) {
  if (ui.open_viewer) {
    ImGui::OpenPopup("viewer");
    ui.open_viewer = false;
  }
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(
      ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.05f, vp->WorkPos.y + vp->WorkSize.y * 0.05f));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x * 0.9f, vp->WorkSize.y * 0.9f));
  if (!ImGui::BeginPopupModal(
          "viewer", nullptr,
          ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoMove)) {
    return;
  }
  request_glyphs(ui.viewer_title);
  ImGui::TextUnformatted(ui.viewer_title.c_str());
  ImGui::SameLine(ImGui::GetContentRegionAvail().x - 40);
  bool close =
      ImGui::SmallButton("close") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape));
  ImVec2 avail = ImGui::GetContentRegionAvail();
  const Texture* tex =
      ui.textures ? ui.textures->get_file("file:" + ui.viewer_path, ui.viewer_path) : nullptr;
  if (!tex) {
    ImGui::TextDisabled("loading…");
  } else {
    float s = std::min(avail.x / float(tex->w), avail.y / float(tex->h));
    ImVec2 size(float(tex->w) * s, float(tex->h) * s);
    ImGui::SetCursorPos(ImVec2(ImGui::GetCursorPosX() + (avail.x - size.x) * 0.5f,
                               ImGui::GetCursorPosY() + (avail.y - size.y) * 0.5f));
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex->id)), size);
    close = close || ImGui::IsItemClicked();
  }
  if (close) {
    ui.viewer_path.clear();
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

}  // namespace ferry::gui
