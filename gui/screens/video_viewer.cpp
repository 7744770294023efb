// In-app video playback of a downloaded video: the picture fitted into a modal, a play/pause
// button, a seek bar and the time. Decoding runs in VideoPlayer (render/video_player.h).
#include <imgui.h>

#include <algorithm>
#include <cstdint>

#include "gui/render/imgui_glue.h"
#include "gui/render/video_player.h"
#include "gui/screens/screens.h"

namespace ferry::gui {

void draw_video_viewer(UiState& ui) {
  if (!ui.video) return;
  if (ui.open_video) {
    ImGui::OpenPopup("video");
    ui.open_video = false;
  }
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  ImGui::SetNextWindowPos(
      ImVec2(vp->WorkPos.x + vp->WorkSize.x * 0.05f, vp->WorkPos.y + vp->WorkSize.y * 0.05f));
  ImGui::SetNextWindowSize(ImVec2(vp->WorkSize.x * 0.9f, vp->WorkSize.y * 0.9f));
  if (!ImGui::BeginPopupModal(
          "video", nullptr,
          ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoMove)) {
    return;
  }
  VideoPlayer& v = *ui.video;
  request_glyphs(ui.video_title);
  ImGui::TextUnformatted(ui.video_title.c_str());
  ImGui::SameLine(ImGui::GetContentRegionAvail().x - 40);
  bool close =
      ImGui::SmallButton("close") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape));
  float controls_h = ImGui::GetFrameHeightWithSpacing() + 4;
  ImVec2 avail = ImGui::GetContentRegionAvail();
  avail.y -= controls_h;
  const Texture* tex = v.texture();
  ImVec2 start = ImGui::GetCursorPos();
  if (tex) {
    float s = std::min(avail.x / float(tex->w), avail.y / float(tex->h));
    ImVec2 size(float(tex->w) * s, float(tex->h) * s);
    ImGui::SetCursorPos(
        ImVec2(start.x + (avail.x - size.x) * 0.5f, start.y + (avail.y - size.y) * 0.5f));
    ImGui::Image(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex->id)), size);
    if (ImGui::IsItemClicked()) v.set_paused(!v.paused());
  } else {
    ImGui::TextDisabled("loading…");
  }
  ImGui::SetCursorPos(ImVec2(start.x, start.y + avail.y + 4));
  if (ImGui::Button(v.paused() ? "Play" : "Pause", ImVec2(70, 0))) v.set_paused(!v.paused());
  ImGui::SameLine();
  float pos = float(v.position()), dur = float(std::max(v.duration(), 0.001));
  std::string time =
      human_duration(uint64_t(pos * 1000)) + " / " + human_duration(uint64_t(dur * 1000));
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - ImGui::CalcTextSize(time.c_str()).x -
                          12);
  if (ImGui::SliderFloat("##seek", &pos, 0.0f, dur, "")) v.seek(pos);
  ImGui::SameLine();
  ImGui::TextUnformatted(time.c_str());
  if (close) {
    v.close();
    ImGui::CloseCurrentPopup();
  }
  ImGui::EndPopup();
}

}  // namespace ferry::gui
