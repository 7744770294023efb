// The conversation list: start a conversation by name, then one row per peer with the last
// message and the unread count, newest activity first.
#include <imgui.h>
#include <imgui_stdlib.h>

#include "gui/render/imgui_glue.h"
#include "gui/screens/screens.h"

namespace ferry::gui {

namespace {

std::string preview(const Message* m) {
  if (!m) return "";
  std::string s;
  switch (m->kind) {
    case MediaKind::kImage:
      s = "[image] " + m->name;
      break;
    case MediaKind::kVideo:
      s = "[video] " + m->name;
      break;
    case MediaKind::kFile:
      s = "[file] " + m->name;
      break;
    default:
      s = m->text;
  }
  size_t nl = s.find('\n');
  if (nl != std::string::npos) s = s.substr(0, nl) + " …";
  return s;
}

void draw_row(UiState& ui, AppModel& model, FerryLink& link, const Conversation& c) {
  bool selected = c.peer == model.open_peer();
  float h = ImGui::GetTextLineHeightWithSpacing() * 2 + 6;
  ImVec2 p = ImGui::GetCursorScreenPos();
  float w = ImGui::GetContentRegionAvail().x;
  ImGui::PushID(c.peer.c_str());
  if (ImGui::Selectable("##row", selected, 0, ImVec2(w, h))) {
    link.open(c.peer);
    ui.stick_to_bottom = true;
    ui.scroll_to_bottom_frames = 2;
  }
  ImGui::PopID();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImU32 dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  dl->AddText(ImVec2(p.x + 6, p.y + 3), ImGui::GetColorU32(ImGuiCol_Text), c.peer.c_str());
  const Message* last = c.last();
  if (last && last->ts_ms) {
    std::string t = format_time(last->ts_ms);
    float tw = ImGui::CalcTextSize(t.c_str()).x;
    dl->AddText(ImVec2(p.x + w - tw - 6, p.y + 3), dim, t.c_str());
  }
  std::string pv = preview(last);
  request_glyphs(c.peer);
  request_glyphs(pv);
  float line2 = p.y + 5 + ImGui::GetTextLineHeightWithSpacing();
  ImVec4 clip(p.x, p.y, p.x + w - 40, p.y + h);
  dl->AddText(ImGui::GetFont(), ImGui::GetFontSize(), ImVec2(p.x + 6, line2), dim, pv.c_str(),
              nullptr, 0.0f, &clip);
  if (c.unread > 0) {
    std::string n = std::to_string(c.unread);
    ImVec2 ts = ImGui::CalcTextSize(n.c_str());
    float r = std::max(ts.x, ts.y) * 0.5f + 4;
    ImVec2 center(p.x + w - r - 6, line2 + ts.y * 0.5f);
    dl->AddCircleFilled(center, r, IM_COL32(220, 60, 60, 255));
    dl->AddText(ImVec2(center.x - ts.x * 0.5f, center.y - ts.y * 0.5f), IM_COL32_WHITE, n.c_str());
  }
}

}  // namespace

void draw_conversations(UiState& ui, AppModel& model, FerryLink& link) {
  ImGui::TextDisabled("signed in as %s", model.user().c_str());
  ImGui::SameLine(ImGui::GetContentRegionAvail().x - 50);
  if (ImGui::SmallButton("log out")) link.logout();
  ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - 60);
  bool enter = ImGui::InputTextWithHint("##peer", "start a conversation with…", &ui.new_peer,
                                        ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::SameLine();
  if ((ImGui::Button("Start") || enter) && !ui.new_peer.empty()) {
    link.open(ui.new_peer);
    ui.new_peer.clear();
  }
  ImGui::Separator();
  float notice_h = model.notice.empty() ? 0 : ImGui::GetTextLineHeightWithSpacing() * 3;
  ImGui::BeginChild("list", ImVec2(0, -notice_h));
  for (const Conversation* c : model.conversations_by_activity()) draw_row(ui, model, link, *c);
  if (model.conversation_count() == 0) ImGui::TextDisabled("No conversations yet.");
  ImGui::EndChild();
  if (!model.notice.empty()) {
    ImGui::PushTextWrapPos();
    ImGui::TextColored(ImVec4(1, 0.8f, 0.3f, 1), "%s", model.notice.c_str());
    ImGui::PopTextWrapPos();
    if (ImGui::SmallButton("dismiss")) model.notice.clear();
  }
}

}  // namespace ferry::gui
