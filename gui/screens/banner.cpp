// The connection banner: shown while ferry is not connected, gone by itself once it is. The
// SDK reconnects on its own; the banner only says so.
#include <imgui.h>

#include "gui/screens/screens.h"

namespace ferry::gui {

void draw_banner(const AppModel& model) {
  const Connection& c = model.connection();
  if (c.state == FERRY_CONN_ONLINE || c.state == FERRY_CONN_CONNECTED) return;
  ImVec2 p = ImGui::GetCursorScreenPos();
  float w = ImGui::GetContentRegionAvail().x;
  float h = ImGui::GetTextLineHeight() + 8;
  ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + w, p.y + h), IM_COL32(150, 90, 20, 255),
                                            3.0f);
  std::string text = c.state == FERRY_CONN_CONNECTING ? "Connecting…" : "Reconnecting…";
  if (c.state == FERRY_CONN_OFFLINE && !c.detail.empty()) text += "  (" + c.detail + ")";
  ImGui::SetCursorScreenPos(ImVec2(p.x + 8, p.y + 4));
  ImGui::TextUnformatted(text.c_str());
  ImGui::SetCursorScreenPos(ImVec2(p.x, p.y + h + 4));
}

}  // namespace ferry::gui
