// The login / register screen.
#include <imgui.h>
#include <imgui_stdlib.h>

#include "gui/screens/screens.h"

namespace ferry::gui {

void draw_login(UiState& ui, AppModel& model, FerryLink& link) {
  ImVec2 avail = ImGui::GetContentRegionAvail();
  float w = 360;
  ImGui::SetCursorPos(ImVec2((avail.x - w) * 0.5f, ImGui::GetCursorPosY() + avail.y * 0.25f));
  ImGui::BeginChild("login", ImVec2(w, 260), true);
  ImGui::Text("ferry");
  ImGui::TextDisabled("server %s", ui.server.c_str());
  ImGui::Separator();
  ImGui::SetNextItemWidth(-1);
  ImGui::InputTextWithHint("##user", "user name", &ui.user);
  ImGui::SetNextItemWidth(-1);
  bool enter =
      ImGui::InputTextWithHint("##password", "password", &ui.password,
                               ImGuiInputTextFlags_Password | ImGuiInputTextFlags_EnterReturnsTrue);
  bool waiting = model.auth_result == 1 && model.auth_request != 0;
  bool can = !ui.user.empty() && !ui.password.empty() && !waiting;
  if (!can) ImGui::BeginDisabled();
  if (ImGui::Button("Log in", ImVec2(170, 0)) || (enter && can))
    link.login(ui.user, ui.password, false);
  ImGui::SameLine();
  if (ImGui::Button("Register", ImVec2(-1, 0))) link.login(ui.user, ui.password, true);
  if (!can) ImGui::EndDisabled();
  if (waiting) ImGui::TextDisabled("waiting for the server…");
  if (model.auth_result < 0) {
    std::string why =
        model.auth_detail.empty() ? ferry_strerror(model.auth_result) : model.auth_detail;
    ImGui::PushTextWrapPos();
    ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", why.c_str());
    ImGui::PopTextWrapPos();
  }
  ImGui::EndChild();
}

}  // namespace ferry::gui
